"""Kill `tradebot run` (SIGKILL) at a chosen broker request, for the kill -9 tests.

The local Alpaca server sees every request the bot makes, so a moment in the bot's work is named
by the request that starts it: "the first DELETE after this mark" is the close's cancel leaving,
"the first POST /v2/orders" its sell. A :class:`~tradebot.simulators.alpaca.faults.Fault` armed
on that request decides what the broker did with it before the kill: refused without effect
(``Fault.error(503, process=False)``: the broker never got it) or done with the answer held back
(``Fault.slow(..., process=True)``: the broker did it, the bot never heard). Every scripted fault
is dropped after the kill, so the restarted bot finds a healthy broker.
"""

from __future__ import annotations

from tests.e2e.harness import Env, until
from tradebot.simulators.alpaca.faults import Fault

#: refused without effect, every time, until the faults are cleared
NEVER = 10_000


def refuse(method: str, path: str | None) -> Fault:
    """The broker refuses ``method path`` (503) without doing anything, until cleared."""
    return Fault.error(503, process=False, times=NEVER, method=method, path=path)


def mark(env: Env) -> int:
    """A point in the bot's requests: the requests after it are the ones looked at."""
    return len(env.server.requests)


def sent(env: Env, since: int, method: str, path: str | None = None) -> bool:
    """Whether the bot sent ``method path`` (any path: None) since ``since``."""
    return any(
        m == method and (path is None or p == path or p.startswith(path + "/"))
        for m, p in list(env.server.requests)[since:]
    )


async def kill_at(env: Env, since: int, method: str, path: str | None = None, *, what: str) -> None:
    """Wait until the bot sends ``method path`` after ``since``, kill it, drop the faults."""
    await until(lambda: sent(env, since, method, path), what)
    await env.bot.kill9()
    env.server.clear_faults()
