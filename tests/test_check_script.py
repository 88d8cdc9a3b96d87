"""``scripts/check --stress``: its CPU hogs never outlive it, and pytest gets the arguments."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check"
#: a small file stands in for the end-to-end tests: what is checked here is the script
SMALL = {**os.environ, "STRESS_TESTS": "tests/test_exceptions.py"}
#: a last resort: a script whose hogs hold its output open would never return
RETURNS = 120
#: pytest refuses it at once (exit 4, usage error): the run is about the script, not the tests
UNKNOWN = "--no-such-pytest-option"


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _hogs(output: str) -> list[int]:
    found = re.search(r"CPU hogs: pids ([\d ]+)\)", output)
    assert found, output
    return [int(p) for p in found[1].split()]


def test_the_hogs_are_gone_when_the_script_returns_and_arguments_reach_pytest() -> None:
    result = subprocess.run(
        [str(SCRIPT), "--stress", "-k", "masked or no_such_test", "--collect-only"],
        capture_output=True,
        text=True,
        check=False,
        env={**SMALL, "STRESS_HOGS": "1"},  # the count is the script's to choose
        timeout=RETURNS,
    )
    hogs = _hogs(result.stdout)
    assert len(hogs) == 1
    assert [p for p in hogs if _alive(p)] == []  # the EXIT trap killed and reaped them
    assert result.returncode == 0, result.stdout + result.stderr
    collected = re.findall(r"^tests/\S+::(\S+)$", result.stdout, flags=re.MULTILINE)
    assert collected and all(name.startswith("test_messages_are_masked") for name in collected)


def test_a_failing_run_keeps_its_status_and_kills_the_hogs() -> None:
    result = subprocess.run(
        [str(SCRIPT), "--stress", UNKNOWN],
        capture_output=True,
        text=True,
        check=False,
        env=SMALL,
        timeout=RETURNS,
    )
    assert result.returncode == 4  # pytest's usage error, passed on
    assert [p for p in _hogs(result.stdout) if _alive(p)] == []


def test_hogs_stop_by_themselves_when_the_script_is_killed_9() -> None:
    script = subprocess.Popen(
        [str(SCRIPT), "--stress", UNKNOWN],
        env=SMALL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert script.stdout is not None
    header = script.stdout.readline()  # printed once the hogs run, before pytest starts
    hogs = _hogs(header)
    script.send_signal(signal.SIGKILL)
    script.wait()
    try:
        deadline = time.monotonic() + 30  # last resort: they check every few hundredths
        while any(_alive(p) for p in hogs):
            assert time.monotonic() < deadline, f"hogs {hogs} outlived the script"
            time.sleep(0.05)
    finally:
        for pid in hogs:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
