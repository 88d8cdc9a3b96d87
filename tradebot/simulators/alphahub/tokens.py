"""Access tokens the simulator issues: random, expiring after a lifetime (monotonic clock)."""

from __future__ import annotations

import asyncio
import secrets
import time


class TokenStore:
    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.issued: list[str] = []  # every token ever issued, for tests that check secrecy
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        self._expiry[token] = time.monotonic() + self.lifetime
        self.issued.append(token)
        return token

    def valid(self, token: str) -> bool:
        expiry = self._expiry.get(token)
        return expiry is not None and time.monotonic() < expiry

    @property
    def live(self) -> int:
        now = time.monotonic()
        return sum(1 for expiry in self._expiry.values() if expiry > now)

    def expire_all(self) -> None:
        self._expiry.clear()

    async def wait_all_expired(self) -> None:
        if self._expiry:
            await asyncio.sleep(max(0.0, max(self._expiry.values()) - time.monotonic()))
