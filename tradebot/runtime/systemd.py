"""Running under systemd (``Type=notify``, ``WatchdogSec=``): READY, STATUS and WATCHDOG over
``NOTIFY_SOCKET``, without a dependency (the protocol is one datagram per message, see
``sd_notify(3)``: ``KEY=VALUE`` lines on a ``SOCK_DGRAM`` Unix socket, ``@`` for an abstract one).

What the bot says, and when:

* ``STATUS=recovering (...)`` while the bot listens and journals signals but start-up recovery
  is not done (the :class:`~tradebot.runtime.observer.Recovering` event: the broker has not
  answered); not ready;
* ``READY=1`` once recovery is done (the
  :class:`~tradebot.runtime.observer.Started` event): the bot trades from there; a recovery
  that never ends is caught by ``TimeoutStartSec=`` (the signals received meanwhile are
  journaled: the next start plans them while fresh);
* ``STATUS=<one line>`` whenever the line changes: the mode, the broker and account, the
  subscriptions joined, the signals handled, the kill switch, a withheld watchdog and why
  (``systemctl status tradebot`` shows it);
* ``WATCHDOG=1`` every half ``WatchdogSec`` (``WATCHDOG_USEC`` in the environment, for this
  process when ``WATCHDOG_PID`` is unset or ours), **only while the bot is alive**: a liveness
  :class:`Probe` must have advanced within the watchdog period. Two things advance it: the event
  loop (the keep-alive task runs on it: a blocked loop sends nothing) and the journal (a read
  through the bot's own journal object, every half period: a write stuck in the journal, on a
  lock, a hung disk or a silent database server, holds the journal's lock, and the read waits
  behind it). A probe that has not advanced for the period withholds WATCHDOG, and systemd
  restarts the bot (``Restart=on-failure``) when ``WatchdogSec`` passes without one;
* ``STOPPING=1`` when the bot has stopped.

With ``NOTIFY_SOCKET`` unset (not under systemd) nothing of this runs. A message that cannot be
sent is logged once and dropped: telling systemd never stops the bot trading.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from tradebot.journal.interface import Journal
from tradebot.runtime.killswitch import HaltMode
from tradebot.runtime.observer import (
    BotEvent,
    ConnectionChanged,
    KillSwitchChanged,
    Recovering,
    SignalHandled,
    Started,
    Stopped,
)

if TYPE_CHECKING:
    from tradebot.runtime.bot import Bot

log = logging.getLogger(__name__)

SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"


class Notifier:
    """Sends ``sd_notify`` messages to one socket; never raises, never blocks."""

    def __init__(self, address: str | bytes) -> None:
        self._address = address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._sock.setblocking(False)
        self._failed = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Notifier | None:
        """The notifier ``NOTIFY_SOCKET`` names (a path, or ``@name`` for an abstract socket);
        None when it is unset or not a Unix socket address."""
        value = environ.get(SOCKET_ENV, "")
        if value.startswith("@") and len(value) > 1:
            return cls(b"\0" + value[1:].encode())
        if value.startswith("/"):
            return cls(value)
        if value:
            log.warning("%s=%r is not a Unix socket address; not notifying", SOCKET_ENV, value)
        return None

    def send(self, *lines: str) -> bool:
        """Send ``lines`` (``KEY=VALUE`` each) as one message; False when it could not be sent."""
        message = "\n".join(line.replace("\n", " ") for line in lines).encode()
        try:
            self._sock.sendto(message, self._address)
        except OSError as exc:
            if not self._failed:  # once: a vanished socket must not flood the log
                log.warning("systemd notification not sent: %s", exc.strerror or exc)
                self._failed = True
            return False
        self._failed = False
        return True

    def close(self) -> None:
        self._sock.close()


def watchdog_period(environ: Mapping[str, str], pid: int | None = None) -> float | None:
    """``WATCHDOG_USEC`` in seconds when the watchdog is on for this process, else None."""
    owner = environ.get(WATCHDOG_PID_ENV)
    if owner and owner.strip() != str(os.getpid() if pid is None else pid):
        return None
    try:
        usec = int(environ.get(WATCHDOG_USEC_ENV, ""))
    except ValueError:
        return None
    return usec / 1e6 if usec > 0 else None


class Probe:
    """When each part of the bot last showed it was alive (monotonic seconds)."""

    def __init__(self, parts: tuple[str, ...], now: float) -> None:
        self._seen = dict.fromkeys(parts, now)

    def advance(self, part: str, now: float) -> None:
        self._seen[part] = now

    def stalled(self, now: float, period: float) -> dict[str, float]:
        """The parts not seen within ``period``, with how long ago they were."""
        return {part: now - at for part, at in self._seen.items() if now - at > period}


class Service:
    """The plug-in: an observer (READY, STATUS, STOPPING) and, with a watchdog, a task."""

    def __init__(
        self,
        bot: Bot,
        notifier: Notifier,
        *,
        watchdog: float | None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bot = bot
        self._notifier = notifier
        self._watchdog = watchdog
        self._monotonic = monotonic
        self._journal: Journal | None = None
        self._probe = Probe(("loop", "journal"), monotonic())
        self._head = "starting"
        self._kill_switch = HaltMode.RUNNING
        self._withheld = ""
        self._status = ""

    # -- the observer ---------------------------------------------------------------------------

    def notice(self, event: BotEvent) -> None:
        if isinstance(event, Recovering):
            self._head = f"listening; recovering ({event.waiting})"
            self._status = self._line()
            self._notifier.send(f"STATUS={self._status}")
        elif isinstance(event, Started):
            self._head = f"trading {event.mode} on {event.broker} account {event.account_id}"
            self._notifier.send("READY=1", f"STATUS={self._line()}")
            self._status = self._line()
        elif isinstance(event, Stopped):
            why = "stopped" if event.error is None else f"stopped: {type(event.error).__name__}"
            self._notifier.send("STOPPING=1", f"STATUS={why}")
        elif isinstance(event, ConnectionChanged | SignalHandled | KillSwitchChanged):
            if isinstance(event, KillSwitchChanged):
                self._kill_switch = event.state.mode
            self._tell_status()

    def _line(self) -> str:
        parts = [self._head]
        running = self._bot.parts
        if running is not None:
            listener = running.listener
            connections = self._bot.config.alphahub.connections
            joined = sum(len(listener.joined(i)) for i in range(connections))
            wanted = connections * len(listener.algorithms)
            parts.append(f"{joined}/{wanted} subscriptions joined")
            parts.append(f"{self._bot.handled} signals handled")
        if self._kill_switch is not HaltMode.RUNNING:
            parts.append(f"kill switch {self._kill_switch}")
        if self._withheld:
            parts.append(self._withheld)
        return "; ".join(parts)

    def _tell_status(self) -> None:
        line = self._line()
        if line != self._status and self._head != "starting":
            self._status = line
            self._notifier.send(f"STATUS={line}")

    # -- the journal, seen through the bot's own object ----------------------------------------

    def journal_seen(self, journal: Journal) -> Journal:
        """For :meth:`Bot.wrap_journal`: keep the journal the bot writes through (unchanged)."""
        self._journal = journal
        return journal

    # -- the watchdog -----------------------------------------------------------------------------

    async def keep_alive(self) -> None:
        """While the probe advances, WATCHDOG=1 every half period (a task of the bot's)."""
        period = self._watchdog
        if period is None:
            return
        self._probe = Probe(("loop", "journal"), self._monotonic())  # from the start of trading
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._probe_journal(period / 2))
            tg.create_task(self._beat(period))

    async def _probe_journal(self, interval: float) -> None:
        while True:
            journal = self._journal
            if journal is not None:
                await asyncio.to_thread(journal.last_id)  # waits behind a stuck write
            self._probe.advance("journal", self._monotonic())
            await asyncio.sleep(interval)

    async def _beat(self, period: float) -> None:
        while True:
            now = self._monotonic()
            self._probe.advance("loop", now)  # this runs: the event loop is alive
            stalled = self._probe.stalled(now, period)
            if stalled:
                self._withheld = "watchdog withheld: " + ", ".join(
                    f"the {part} has not answered for {age:.0f} s" for part, age in stalled.items()
                )
                log.warning("%s", self._withheld)
            else:
                self._withheld = ""
                self._notifier.send("WATCHDOG=1")
            self._tell_status()
            await asyncio.sleep(period / 2)


def attach_systemd(bot: Bot, environ: Mapping[str, str]) -> Service | None:
    """READY, STATUS and the watchdog for ``bot`` when run by systemd (``NOTIFY_SOCKET`` set),
    else nothing. Call before ``bot.run()``."""
    notifier = Notifier.from_environ(environ)
    if notifier is None:
        return None
    service = Service(bot, notifier, watchdog=watchdog_period(environ))
    bot.observe(service)
    bot.wrap_journal(service.journal_seen)
    bot.add_task("systemd watchdog", service.keep_alive)
    return service
