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
