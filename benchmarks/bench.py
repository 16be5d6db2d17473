"""Benchmark: wall time and peak memory of the offline preview per stack, and of the test suite.

Targets (2-core machine): at most 5 s per stack preview, at most 60 s for the
suite. Each measurement is a fresh process, imports included, as a user or CI
would run it. Prints a table and exits 1 when a target is missed.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod", "ultra")
PREVIEW_TARGET_S = 5.0
SUITE_TARGET_S = 60.0


def measure(command: list[str]) -> tuple[float, float]:
    """Seconds and peak resident MiB of one child process."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    # ru_maxrss over all waited-for children is a high-water mark; fresh per
    # measurement only when it grows, so report the mark after each command.
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return elapsed, peak_mib


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
