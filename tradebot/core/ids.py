"""Deterministic client order ids.

The same legs, account, role and attempt always give the same id, so a retry or a restart can
never create a second order for a leg. Alpaca keeps a client order id unique forever (even after a
cancel) and allows at most 48 characters (OpenAPI: ``client_order_id`` maxLength 48).

Several accounts (the config's ``accounts:``, issue 22) follow the same signals, possibly into
one broker account, so an id names the account that decided it: ``<account>.<id>`` for every
account but :data:`DEFAULT_ACCOUNT`, whose ids carry no prefix and stay byte for byte what
they were before accounts existed (journals, recoveries and the planner's golden file keep
working). ``.`` never occurs in an account name nor in an unprefixed id, so
:func:`account_of` reads the account back; the account is in the digest too. An id and every id
derived from it (re-sends, remainders, exits) keep the prefix and fit the 48 characters with
the longest name (:data:`MAX_ACCOUNT_NAME`): what no longer fits is hashed, never cut off.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from tradebot.core.signal import LegId

MAX_CLIENT_ORDER_ID = 48
_UNSAFE = re.compile(r"[^A-Z0-9]")

#: the account today's single ``broker:`` + ``algorithms:`` config is (and every row and id
#: written before accounts existed belongs to)
DEFAULT_ACCOUNT = "default"
MAX_ACCOUNT_NAME = 16
#: what an account may be called: short, lower case, free of ``.`` (the id's separator), and
#: starting with a letter or digit (``--account -x`` would read as an option)
ACCOUNT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,15}")
ACCOUNT_NAME_RULE = (
    "1 to 16 characters of a-z (lower case), 0-9, '_' and '-', starting with a letter or digit"
)
_SEPARATOR = "."
#: room kept after a new id for the suffixes derived ids add (``-a9-tp``, ``-a12-m``), so a
#: person still sees the link from a re-send, remainder or exit to its original
_SUFFIX_ROOM = 6


def check_account(name: str) -> str:
    """``name`` when it is a valid account name (:data:`ACCOUNT_NAME`); else ValueError."""
    if not ACCOUNT_NAME.fullmatch(name):
        raise ValueError(f"account name {name!r}: use {ACCOUNT_NAME_RULE}")
    return name


def _prefix(account: str) -> str:
    return "" if check_account(account) == DEFAULT_ACCOUNT else account + _SEPARATOR


def split_account(client_order_id: str) -> tuple[str, str]:
    """``(account, the id without its account prefix)``; an id without a prefix (every id of
    :data:`DEFAULT_ACCOUNT`, and an order placed by something else) is the default's."""
    name, dot, body = client_order_id.partition(_SEPARATOR)
    if dot and name != DEFAULT_ACCOUNT and ACCOUNT_NAME.fullmatch(name):
        return name, body
    return DEFAULT_ACCOUNT, client_order_id


def account_of(client_order_id: str) -> str:
    """The account whose decision made this id (:func:`split_account`)."""
    return split_account(client_order_id)[0]


def _hex(text: str, width: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:width]


def _fit(prefix: str, body: str, hashed: str, tail: str) -> str:
    """``prefix + body`` when it fits; else the prefix, ``tb-``, a digest of ``hashed`` (at
    most 24 hex) and ``tail``: derived ids stay the account's, deterministic and short."""
    if len(prefix) + len(body) <= MAX_CLIENT_ORDER_ID:
        return prefix + body
    width = min(24, MAX_CLIENT_ORDER_ID - len(prefix) - len("tb-") - len(tail))
    return f"{prefix}tb-{_hex(hashed, width)}{tail}"


def account_tag(configured: str | None, broker_account: str) -> str:
    """The account part of every client order id: ``broker.account_id`` when the config sets it,
    else the account number the broker reports.

    A fixed tag lets several configs follow the same signals into one broker account without
    their ids colliding, and keeps ids stable if the broker's number changes. Orders already
    journaled keep the id they were written with: recovery and re-checks look them up by that
    id, so changing the tag only changes the ids of orders planned from then on.
    """
    return configured or broker_account


def client_order_id(
    account_id: str,
    leg_ids: Iterable[LegId],
    role: str,
    attempt: int = 0,
    *,
    account: str = DEFAULT_ACCOUNT,
) -> str:
    """``[<account>.]tb<algo>-<SYMBOL>-<role initial>-<16 hex of sha256>[-a<attempt>]``, at
    most 48 chars.

    ``account_id`` is the broker account's tag (:func:`account_tag`), ``account`` the config's
    account that decided the order (no prefix for :data:`DEFAULT_ACCOUNT`). The readable part
    helps a person match broker orders to accounts and algorithms (the symbol is shortened
    to leave room for a long account name); the digest carries the identity (both accounts,
    every leg's key, the role) so two different orders never share an id.
    """
    prefix = _prefix(account)
    legs = sorted(set(leg_ids))
    if not legs:
        raise ValueError("a client order id needs at least one leg")
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    lines = [account_id, role, *(leg.key for leg in legs)]
    if prefix:  # the default's material is what it was before accounts: its ids unchanged
        lines.append(f"account {account}")
    digest = _hex("\n".join(lines), 16)
    first = legs[0]
    width = 12
    if prefix:  # tb<algo>-<SYMBOL>-r-<digest>: 22 characters and the algo's beside the symbol
        room = MAX_CLIENT_ORDER_ID - len(prefix) - _SUFFIX_ROOM
        width = max(0, min(width, room - 22 - len(str(first.algo_id))))
    symbol = _UNSAFE.sub("", first.symbol)[:width]
    cid = f"tb{first.algo_id}-{symbol}-{role[:1]}-{digest}"
    if attempt:
        cid += f"-a{attempt}"
    if len(prefix) + len(cid) > MAX_CLIENT_ORDER_ID:  # only with absurd algo ids or attempts
        width = min(16, MAX_CLIENT_ORDER_ID - len(prefix) - len("tb--") - len(digest))
        cid = f"tb-{digest}-{_hex(prefix + cid, width)}"
    return prefix + cid


#: ``-a<n>`` after a digest: a digest of its own may read ``a`` and digits (``-a1539...``),
#: and is no attempt (stripping it would give two orders' re-sends one id)
_ATTEMPT = re.compile(r"(?<=[0-9a-f]{16})-a(\d+)$")


def attempt_of(client_order_id: str) -> int:
    """The attempt number an id carries (0 for a first send)."""
    match = _ATTEMPT.search(client_order_id)
    return int(match.group(1)) if match else 0


def resend_id(client_order_id: str, attempt: int) -> str:
    """The id for a deliberate re-send of an order that ended without filling.

    ``<original id>-a<attempt>``: deterministic, visibly linked to the first id, and for every id
    :func:`client_order_id` makes it is exactly what that function gives for ``attempt``. Alpaca
    keeps an id unique forever, even after a cancel, so a re-send can never reuse the old one.
    """
    if attempt < 1:
        raise ValueError("a re-send has attempt >= 1")
    account, body = split_account(client_order_id)
    prefix = _prefix(account)
    cid = f"{_ATTEMPT.sub('', body)}-a{attempt}"
    return _fit(prefix, cid, prefix + cid, f"-a{attempt}")


def remainder_id(limit_id: str) -> str:
    """The client order id of the market remainder of a chased limit: ``<limit id>-m``.

    ``limit_then_market`` children are derived from the limit's id alone, so a restart or a lost
    answer finds the same child (Alpaca refuses a second order with an id it has seen), and a
    person sees the link.
    """
    account, body = split_account(limit_id)
    prefix = _prefix(account)
    return _fit(prefix, f"{body}-m", f"{limit_id}-m", "-m")


#: the suffixes of exit ids (:class:`~tradebot.core.orders.ExitKind`'s values)
_EXIT_KINDS = ("tp", "sl", "ts")


def exit_id(entry_id: str, kind: str) -> str:
    """The client order id of an entry's exit: ``<entry id>-tp``, ``-sl`` or ``-ts``.

    Derived from the entry's id alone (for a chased entry: the limit's), so a restart or a lost
    answer finds the same exit, and a person sees the link. ``kind`` is an
    :class:`~tradebot.core.orders.ExitKind` value. Alpaca names a bracket's legs itself; the
    adapter gives them these ids back (:func:`leg_exit_id`).
    """
    if kind not in _EXIT_KINDS:
        raise ValueError(f"unknown exit kind {kind!r}")
    account, body = split_account(entry_id)
    return _fit(_prefix(account), f"{body}-{kind}", entry_id, f"-{kind}")


def leg_exit_id(parent_id: str, leg_type: str) -> str:
    """Our id for a leg of ``parent_id`` (a bracket/oto entry, or an oco take-profit) from the
    leg's order type: its ``limit`` leg is the take-profit, its ``stop`` leg the stop-loss.

    An oco is itself the take-profit (``<entry>-tp``): its stop leg is ``<entry>-sl``.
    """
    kind = {"limit": "tp", "stop": "sl", "stop_limit": "sl"}.get(leg_type)
    if kind is None:
        raise ValueError(f"a bracket leg of type {leg_type!r} is not an exit")
    entry = parent_id[: -len("-tp")] if parent_id.endswith("-tp") else parent_id
    return exit_id(entry, kind)


def exit_parts(client_order_id: str) -> tuple[str, str] | None:
    """``(entry id, kind)`` of an exit's id (what :func:`exit_id` made it from), or None for any
    other order: entries and closes end in a hex digest, ``-m`` or ``-a<n>``, never in an
    exit's suffix."""
    entry, dash, kind = client_order_id.rpartition("-")
    return (entry, kind) if dash and kind in _EXIT_KINDS else None
