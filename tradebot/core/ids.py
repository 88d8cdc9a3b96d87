"""Deterministic client order ids.

The same legs, account, role and attempt always give the same id, so a retry or a restart can
never create a second order for a leg. Alpaca keeps a client order id unique forever (even after a
cancel) and allows at most 48 characters (OpenAPI: ``client_order_id`` maxLength 48).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from tradebot.core.signal import LegId

MAX_CLIENT_ORDER_ID = 48
_UNSAFE = re.compile(r"[^A-Z0-9]")


def account_tag(configured: str | None, broker_account: str) -> str:
    """The account part of every client order id: ``broker.account_id`` when the config sets it,
    else the account number the broker reports.

    A fixed tag lets several configs follow the same signals into one broker account without
    their ids colliding, and keeps ids stable if the broker's number changes. Orders already
    journaled keep the id they were written with: recovery and re-checks look them up by that
    id, so changing the tag only changes the ids of orders planned from then on.
    """
    return configured or broker_account


def client_order_id(account_id: str, leg_ids: Iterable[LegId], role: str, attempt: int = 0) -> str:
    """``tb<algo>-<SYMBOL>-<role initial>-<16 hex of sha256>[-a<attempt>]``, at most 48 chars.

    The readable prefix helps a person match broker orders to algorithms; the digest carries the
    identity (account, every leg's key, the role) so two different orders never share an id.
    """
    legs = sorted(set(leg_ids))
    if not legs:
        raise ValueError("a client order id needs at least one leg")
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    material = "\n".join([account_id, role, *(leg.key for leg in legs)])
    digest = hashlib.sha256(material.encode()).hexdigest()[:16]
    first = legs[0]
    symbol = _UNSAFE.sub("", first.symbol)[:12]
    cid = f"tb{first.algo_id}-{symbol}-{role[:1]}-{digest}"
    if attempt:
        cid += f"-a{attempt}"
    if len(cid) > MAX_CLIENT_ORDER_ID:  # only with absurd algo ids or attempts
        cid = f"tb-{digest}-{hashlib.sha256(cid.encode()).hexdigest()[:16]}"
    return cid


_ATTEMPT = re.compile(r"-a(\d+)$")


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
    base = _ATTEMPT.sub("", client_order_id)
    cid = f"{base}-a{attempt}"
    if len(cid) > MAX_CLIENT_ORDER_ID:
        cid = f"tb-{hashlib.sha256(cid.encode()).hexdigest()[:24]}-a{attempt}"
    return cid


def remainder_id(limit_id: str) -> str:
    """The client order id of the market remainder of a chased limit: ``<limit id>-m``.

    ``limit_then_market`` children are derived from the limit's id alone, so a restart or a lost
    answer finds the same child (Alpaca refuses a second order with an id it has seen), and a
    person sees the link.
    """
    cid = f"{limit_id}-m"
    if len(cid) > MAX_CLIENT_ORDER_ID:
        cid = f"tb-{hashlib.sha256(cid.encode()).hexdigest()[:24]}-m"
    return cid


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
    cid = f"{entry_id}-{kind}"
    if len(cid) > MAX_CLIENT_ORDER_ID:
        cid = f"tb-{hashlib.sha256(entry_id.encode()).hexdigest()[:24]}-{kind}"
    return cid


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
