"""Benchmark: each stack's offline preview against its floor, and the test suite.

For each stack, in one run: the wall time of ``python -m preview <stack>`` in a
fresh process (imports and exit included, as a user or CI runs it), the wall
time of its floor (``python -m benchmarks.floor``: the same registrations, read
from the stack's own run, with trivial inputs under the same mocks and harness),
their ratio, and the preview's peak resident memory. Each is the median of
``--repeat`` runs (5), preview and floor taken in turn so that a busy machine
slows both alike. Then the whole test suite on two workers, once (its peak is
the largest of its processes).

Targets on a 2-core machine: a preview within 5 s and 1.15 times its floor,
at most 240 MiB, the suite within 45 s. Prints a table; exits 1 when a target
is missed or a measured command fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Nothing heavy is imported here: a child's peak memory counts its parent's at spawn time.
ROOT = Path(__file__).resolve().parent.parent
PREVIEW_TARGET_S = 5.0
FLOOR_RATIO_TARGET = 1.15
PEAK_TARGET_MIB = 240.0
SUITE_TARGET_S = 45.0
SUITE_WORKERS = 2


@dataclass
class Sample:
    seconds: float
    peak_mib: float


def measure(command: list[str]) -> Sample:
    """Wall time and peak resident memory of one child process (its own rusage)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise subprocess.CalledProcessError(code, command)
    return Sample(elapsed, usage.ru_maxrss / 1024)


@dataclass
class StackResult:
    stack: str
    preview_s: float
    floor_s: float
    peak_mib: float

    @property
    def ratio(self) -> float:
        return self.preview_s / self.floor_s

    def missed(self) -> list[str]:
        return [
            f"{self.stack}: {label}"
            for label, bad in (
                (f"preview {self.preview_s:.2f} s > {PREVIEW_TARGET_S:g} s", self.preview_s > PREVIEW_TARGET_S),
                (f"ratio {self.ratio:.2f} > {FLOOR_RATIO_TARGET:g}", self.ratio > FLOOR_RATIO_TARGET),
                (f"peak {self.peak_mib:.0f} MiB > {PEAK_TARGET_MIB:g} MiB", self.peak_mib > PEAK_TARGET_MIB),
            )
            if bad
        ]


def stacks() -> list[str]:
    """The stacks whose files are present (``Pulumi.<stack>.yaml``)."""
    return sorted(path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml"))


def bench_stacks(names: list[str], repeat: int, directory: Path) -> list[StackResult]:
    graphs = {stack: directory / f"{stack}.json" for stack in names}
    for stack, path in graphs.items():
        measure([sys.executable, "-m", "benchmarks.floor", "--write", stack, str(path)])
    previews: dict[str, list[Sample]] = {stack: [] for stack in names}
    floors: dict[str, list[Sample]] = {stack: [] for stack in names}
    for _ in range(repeat):
        for stack in names:
            previews[stack].append(measure([sys.executable, "-m", "preview", stack]))
            floors[stack].append(measure([sys.executable, "-m", "benchmarks.floor", str(graphs[stack])]))
    return [
        StackResult(
            stack,
            statistics.median(s.seconds for s in previews[stack]),
            statistics.median(s.seconds for s in floors[stack]),
            max(s.peak_mib for s in previews[stack]),
        )
        for stack in names
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per preview and floor (median; default 5)")
    parser.add_argument("--no-suite", action="store_true", help="leave the test suite out")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flowbuilder-bench-") as directory:
        results = bench_stacks(stacks(), args.repeat, Path(directory))
    print(f"{'stack':<10} {'preview s':>9} {'floor s':>8} {'ratio':>6} {'peak MiB':>9}")
    for result in results:
        print(
            f"{result.stack:<10} {result.preview_s:>9.2f} {result.floor_s:>8.2f} {result.ratio:>6.2f} "
            f"{result.peak_mib:>9.0f}"
        )
    missed = [problem for result in results for problem in result.missed()]
    if not args.no_suite:
        suite = measure([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(SUITE_WORKERS)])
        print(f"test suite on {SUITE_WORKERS} workers: {suite.seconds:.2f} s, peak {suite.peak_mib:.0f} MiB")
        if suite.seconds > SUITE_TARGET_S:
            missed.append(f"suite {suite.seconds:.2f} s > {SUITE_TARGET_S:g} s")
    print(
        f"targets: preview <= {PREVIEW_TARGET_S:g} s and <= {FLOOR_RATIO_TARGET:g} x floor (median of {args.repeat}), "
        f"peak <= {PEAK_TARGET_MIB:g} MiB, suite <= {SUITE_TARGET_S:g} s"
    )
    for problem in missed:
        print(f"MISSED {problem}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
