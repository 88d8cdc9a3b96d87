"""Pick up edits to config.yaml while the bot runs.

A valid edit replaces the live config between two signals (the signal loop reads
:attr:`ConfigWatcher.current` once per signal, so no signal is planned half with the old and half
with the new rules). An invalid edit is reported once, with the loader's file/line/key message,
and the old config stays in force.

What applies live: ``algorithms`` (allocations, strategies, risk overrides, enabling and
disabling) and ``risk``. What a running bot cannot swap safely (``mode``, ``broker``,
``journal``, ``alphahub`` connection settings) is kept as it was started, and the change is
reported as needing a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tradebot.config.model import Config
from tradebot.exceptions import ConfigError

log = logging.getLogger(__name__)

#: sections a running bot applies at once; the others need a restart
LIVE_SECTIONS = ("algorithms", "risk")
RESTART_SECTIONS = ("mode", "live_trading_acknowledged", "alphahub", "broker", "journal")


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """A valid edit: the config now in force, what changed, and what waits for a restart."""

    config: Config
    changed: tuple[str, ...]  # dotted paths of what changed and applies now
    needs_restart: tuple[str, ...]  # sections that changed but keep their old values


Loader = Callable[[Path], Config]


def diff_sections(old: Config, new: Config) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(applied changes, restart-only changes) between two configs, as key paths."""
    if len(old.accounts) > 1 or len(new.accounts) > 1:
        return _diff_accounts(old, new)
    applied: list[str] = []
    if old.risk != new.risk:
        applied.append("risk")
    for algo_id in sorted(set(old.algorithms) | set(new.algorithms)):
        if old.algorithms.get(algo_id) != new.algorithms.get(algo_id):
            applied.append(f"algorithms.{algo_id}")
    restart = [s for s in RESTART_SECTIONS if getattr(old, s) != getattr(new, s)]
    return tuple(applied), tuple(restart)


def merge_live(running: Config, edited: Config) -> Config:
    """The config to run with: ``edited``'s live sections on ``running``'s restart-only ones
    (with several accounts: each account's ``algorithms`` and ``risk``, and the top-level
    ``risk``; an account added or removed waits for a restart)."""
    declared, written = running.declared_accounts, edited.declared_accounts
    if len(running.accounts) > 1 and declared is not None:
        kept = {
            name: (
                account
                if written is None or name not in written
                else account.model_copy(
                    update={"algorithms": written[name].algorithms, "risk": written[name].risk}
                )
            )
            for name, account in declared.items()
        }
        return running.with_accounts(
            kept, edited.base_risk if written is not None else running.base_risk
        )
    if len(edited.accounts) > 1:
        return running  # one account edited into several: a restart
    return running.model_copy(update={s: getattr(edited, s) for s in LIVE_SECTIONS})


#: what an account's section holds that a running bot cannot swap (its broker and money)
ACCOUNT_RESTART_KEYS = ("mode", "live_trading_acknowledged", "broker", "mirror_of")


def _diff_accounts(old: Config, new: Config) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """:func:`diff_sections` when either config has several accounts (``accounts.NAME...``)."""
    applied: list[str] = []
    if old.base_risk != new.base_risk:
        applied.append("risk")
    restart = [s for s in ("alphahub", "journal") if getattr(old, s) != getattr(new, s)]
    if list(old.accounts) != list(new.accounts) or old.declared_accounts is None:
        return tuple(applied), (*restart, "accounts")
    declared_old, declared_new = old.declared_accounts, new.declared_accounts or {}
    for name, mine in old.accounts.items():
        theirs = new.accounts[name]
        for algo_id in sorted(set(mine.algorithms) | set(theirs.algorithms)):
            if mine.algorithms.get(algo_id) != theirs.algorithms.get(algo_id):
                applied.append(f"accounts.{name}.algorithms.{algo_id}")
        if declared_old[name].risk != declared_new[name].risk:
            applied.append(f"accounts.{name}.risk")
        for key in ACCOUNT_RESTART_KEYS:
            if getattr(declared_old[name], key) != getattr(declared_new[name], key):
                restart.append(f"accounts.{name}.{key}")
    return tuple(applied), tuple(restart)


class ConfigWatcher:
    """Polls one config file by content: a same-size edit within one coarse file-timestamp tick
    would fool an mtime check, and a config file is a few kilobytes to hash."""

    def __init__(
        self,
        path: Path,
        current: Config,
        load: Loader,
        *,
        interval: float = 1.0,
        on_change: Callable[[ConfigChange], None] | None = None,
        on_invalid: Callable[[ConfigError], None] | None = None,
    ) -> None:
        self.path = path
        self.current = current
        self._load = load
        self._interval = interval
        self._on_change = on_change
        self._on_invalid = on_invalid
        self._digest = self._read_digest()

    def _read_digest(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await asyncio.sleep(self._interval)
            await self.check()

    async def check(self) -> ConfigChange | None:
        """Look once; apply a valid change. Returns the change applied, if any."""
        digest = await asyncio.to_thread(self._read_digest)
        if digest is None or digest == self._digest:
            return None  # removed (keep running on what we have), or touched without a change
        self._digest = digest
        try:
            edited = await asyncio.to_thread(self._load, self.path)
        except ConfigError as exc:
            log.error("config edit rejected, the previous config stays in force: %s", exc)
            if self._on_invalid is not None:
                self._on_invalid(exc)
            return None
        applied, restart = diff_sections(self.current, edited)
        if not applied and not restart:
            return None
        self.current = merge_live(self.current, edited)
        change = ConfigChange(self.current, applied, restart)
        if applied:
            log.warning("config reloaded: %s now in force", ", ".join(applied))
        if restart:
            log.warning(
                "config sections %s changed; they take effect at the next start",
                ", ".join(restart),
            )
        if self._on_change is not None:
            self._on_change(change)
        return change
