"""The simulator's signal history (docs/alphahub.md#signal-history) and its fault knobs.

Every leg the simulator pushes is kept, flattened as the service's history endpoint shows it
(no open/close grouping), together with any history a script gives. ``GET
/api/v1/algorithms/{id}/signals?after=YYYY-MM-DD`` answers them newest first, legs dated on or
after ``after``, for a valid session token in ``Authorization`` (raw, no "Bearer").

Faults (:meth:`HistoryFeed.fault`), for the next ``count`` requests or until cleared: ``404``,
``401``, ``500``, ``html`` (a web page), ``garbage`` (not JSON), ``shape`` (JSON of another
shape), ``slow`` (answers after ``delay`` seconds), ``ok`` (clears).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

FAULTS = ("ok", "404", "401", "500", "html", "garbage", "shape", "slow")


class HistoryFeed:
    def __init__(self) -> None:
        self._legs: dict[int, list[dict[str, Any]]] = {}
        self._fault = "ok"
        self._fault_left: int | None = None
        self._delay = 5.0
        self.requests = 0  # history requests answered, faults included (tests read it)

    def record_push(self, algo_id: int, payload: Any) -> None:
        """Keep the legs of a pushed ``new_signals`` payload (closes first, as pushed)."""
        if not isinstance(payload, dict):
            return
        for group in ("close", "open"):
            legs = payload.get(group)
            if isinstance(legs, list):
                self.add(algo_id, legs)

    def add(self, algo_id: int, legs: Iterable[Any]) -> None:
        """History the service has without having pushed it here (a script's, a test's)."""
        self._legs.setdefault(algo_id, []).extend(x for x in legs if isinstance(x, dict))

    def fault(self, mode: str, count: int | None = None, delay: float = 5.0) -> None:
        if mode not in FAULTS:
            raise ValueError(f"unknown history fault {mode!r}; known: {list(FAULTS)}")
        self._fault, self._fault_left, self._delay = mode, count, delay

    def _next_fault(self) -> str:
        mode = self._fault
        if self._fault_left is not None:
            self._fault_left -= 1
            if self._fault_left <= 0:
                self._fault, self._fault_left = "ok", None
        return mode

    async def answer(self, algo_id: int, query: str, authorised: bool) -> tuple[int, str, bytes]:
        """``(status, content type, body)`` for one request."""
        self.requests += 1
        mode = self._next_fault()
        if mode == "slow":
            await asyncio.sleep(self._delay)  # the knob: a service that takes its time
        if mode in ("404", "401", "500"):
            status = int(mode)
            return status, "application/json", _json({"errors": {"detail": f"HTTP {status}"}})
        if mode == "html":
            page = b"<!DOCTYPE html><html><body><h1>AlphaHub</h1></body></html>"
            return 200, "text/html", page
        if mode == "garbage":
            return 200, "application/json", b'{"data": {"signals": [{"pri'
        if mode == "shape":
            return 200, "application/json", _json({"signals": "none"})
        if not authorised:
            return 401, "application/json", _json({"error": {"status": 401}})
        after = parse_qs(query).get("after", [""])[0]
        legs = [
            leg
            for leg in self._legs.get(algo_id, [])
            if str(leg.get("timestamp", ""))[:10] >= after
        ]
        legs.sort(key=lambda leg: str(leg.get("timestamp", "")), reverse=True)
        return 200, "application/json", _json({"data": {"signals": legs}})


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()
