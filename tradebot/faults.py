"""Fault injection for the crash matrix (``tests/e2e/test_crash_matrix.py``): inert unless asked.

The crash matrix kills ``tradebot run`` with SIGKILL at every durable step and restarts it, to
show that no order goes out twice and no leg is lost. It needs the process to die at a precise
point, which only the process itself knows; two environment variables, read once at import, ask
for it:

* ``TRADEBOT_FAULT=STEP[:N]``: the N-th time (default 1) the process reaches ``STEP``, it sends
  itself SIGKILL: nothing is flushed, no ``finally`` runs, as in a real crash.
  ``TRADEBOT_FAULT=@PATH``: the same spec, read from the file ``PATH`` at every step, counted
  from when the file's content changed (the matrix arms a running bot between two cells; an
  empty file disarms it);
* ``TRADEBOT_FAULT_TRACE=PATH``: every step reached is appended to ``PATH``, one name a line (the
  matrix runs each path once this way and kills at every step the trace names).

A step is a name the code passes to :func:`reached` at a boundary: the executor's
:class:`~tradebot.execution.executor.Step` (through its ``on_step`` hook, see :func:`chain`) and
the journal's command rows (``exit_recorded:cancel_for_close``, ``chase_recorded:cancel``...).
With neither variable set (always, outside the tests) :data:`ARMED` is false, :func:`reached`
does nothing and :func:`chain` returns the hook it was given: nothing is read, written or
compared.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

FAULT_ENV = "TRADEBOT_FAULT"
TRACE_ENV = "TRADEBOT_FAULT_TRACE"


class _Armed:
    """The fault asked for by the environment: counts the steps, kills at the chosen one."""

    def __init__(self, fault: str | None, trace: str | None) -> None:
        self._file = fault[1:] if fault and fault.startswith("@") else None
        self._trace = trace
        self._spec: str | None = None
        self._step: str | None = None
        self._left = 0
        self._arm("" if self._file else fault or "")

    def _arm(self, spec: str) -> None:
        self._spec = spec
        name, colon, nth = spec.strip().rpartition(":")
        if not colon or not nth.isdigit():  # no count: the first time
            name, nth = spec.strip(), "1"
        self._step, self._left = name or None, max(int(nth), 1)

    def reached(self, step: str) -> None:
        if self._trace:
            _append(self._trace, step)
        if self._file is not None:
            try:
                with open(self._file, encoding="utf-8") as spec:
                    current = spec.read()
            except OSError:
                current = ""
            if current != self._spec:
                self._arm(current)
        if step == self._step:
            self._left -= 1
            if self._left == 0:
                os.kill(os.getpid(), signal.SIGKILL)


def _append(path: str, line: str) -> None:
    # one write per line, appended: a kill between two steps leaves whole lines
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def _nothing(step: str) -> None:
    """The step hook outside the crash matrix."""


def _armed() -> Callable[[str], None] | None:
    fault, trace = os.environ.get(FAULT_ENV), os.environ.get(TRACE_ENV)
    if not fault and not trace:
        return None
    return _Armed(fault, trace).reached


_ARMED = _armed()

#: whether the environment asked for anything (a caller that must build the step's name tests
#: it first, so that outside the matrix not even the name is made)
ARMED = _ARMED is not None
#: call at a step boundary with the step's name (does nothing unless the environment asks)
reached: Callable[[str], None] = _ARMED or _nothing


def chain(hook: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """``hook`` with the fault injection in front of it, for an ``on_step`` parameter; ``hook``
    itself (no extra call per step) when the environment asks for nothing."""
    armed = _ARMED
    if armed is None:
        return hook
    if hook is None:
        return armed
    inner = hook

    def both(step: str) -> None:
        armed(step)
        inner(step)

    return both
