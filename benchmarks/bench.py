"""Benchmark: wall time and peak memory of the offline preview per stack, and of the test suite.

Targets (2-core machine): at most 5 s per stack preview, at most 60 s for the
suite. Each measurement is a fresh process, imports included, as a user or CI
would run it. Peak memory is that process's own (for the suite, the pytest
controller; its xdist workers are processes of their own). Prints a table and
exits 1 when a target is missed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod", "ultra")
PREVIEW_TARGET_S = 5.0
SUITE_TARGET_S = 60.0


def measure(command: list[str]) -> tuple[float, float]:
    """Seconds and peak resident MiB of one child process (its own rusage, not the running maximum)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, command)
    return elapsed, usage.ru_maxrss / 1024


def main() -> int:
    rows, missed = [], []
    for stack in STACKS:
        seconds, peak = measure([sys.executable, "-m", "preview", stack])
        rows.append((f"preview {stack}", seconds, peak, PREVIEW_TARGET_S))
    seconds, peak = measure([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"])
    rows.append(("test suite", seconds, peak, SUITE_TARGET_S))

    print(f"{'measurement':<18} {'seconds':>8} {'peak MiB':>9} {'target s':>9}")
    for label, seconds, peak, target in rows:
        flag = "" if seconds <= target else "  MISSED"
        print(f"{label:<18} {seconds:>8.2f} {peak:>9.0f} {target:>9.0f}{flag}")
        if flag:
            missed.append(label)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
