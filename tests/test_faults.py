"""The crash matrix's fault injection (tradebot/faults.py): nothing at all unless the environment
asks; asked, it traces every step and kills the process at exactly the chosen one. Each case runs
in a fresh interpreter, since the module reads the environment once, at import."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STEPS = """
from tradebot import faults
for step in {steps!r}:
    faults.reached(step)
    print("after", step, flush=True)
"""


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRADEBOT_FAULT")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unset_it_is_nothing_the_hook_is_passed_through_and_no_step_kills() -> None:
    code = """
from tradebot import faults
hook = print
assert faults.chain(hook) is hook and faults.chain(None) is None
assert faults.reached is faults._nothing and not faults.ARMED
for step in ("signal_journaled", "before_submit"):
    faults.reached(step)
print("alive")
"""
    done = run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "alive\n"


def test_it_kills_at_the_nth_time_the_step_is_reached_and_traces_every_step(
    tmp_path: Path,
) -> None:
    trace = tmp_path / "trace"
    steps = ("plan_journaled", "before_submit", "plan_journaled", "before_submit", "later")
    done = run(
        STEPS.format(steps=steps),
        TRADEBOT_FAULT="before_submit:2",
        TRADEBOT_FAULT_TRACE=str(trace),
    )
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.splitlines() == [
        "after plan_journaled",
        "after before_submit",
        "after plan_journaled",
    ]
    assert trace.read_text().splitlines() == list(steps[:4])


def test_a_step_name_with_colons_and_no_count_is_the_first_time(tmp_path: Path) -> None:
    steps = ("exit_recorded:none", "exit_recorded:cancel_for_close", "later")
    done = run(STEPS.format(steps=steps), TRADEBOT_FAULT="exit_recorded:cancel_for_close")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.splitlines() == ["after exit_recorded:none"]


def test_armed_from_a_file_it_counts_from_when_the_file_changed(tmp_path: Path) -> None:
    arm = tmp_path / "fault"
    arm.write_text("")
    code = f"""
from pathlib import Path
from tradebot import faults
arm = Path({str(arm)!r})
for n in range(3):
    faults.reached("fill_recorded")  # unarmed: the file is empty
print("unarmed", flush=True)
arm.write_text("fill_recorded:2")
for n in range(3):
    faults.reached("fill_recorded")
    print("after", n, flush=True)
"""
    done = run(code, TRADEBOT_FAULT=f"@{arm}")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.splitlines() == ["unarmed", "after 0"]
