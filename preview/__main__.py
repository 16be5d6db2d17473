"""Offline preview: ``python -m preview <stack> [--format text|json]``.

Runs the Pulumi program for a committed stack under mocks (no AWS account, no
Pulumi CLI) and prints what ``pulumi up`` would create. Exits 2 on a
configuration error, with the error naming the stack file and key.
"""

from __future__ import annotations

import argparse
import sys

from stackconfig import ConfigError

from .harness import STACKS, read_stack_file, run_stack
from .render import RENDERERS
from .report import build_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preview", description=__doc__.splitlines()[0])
    parser.add_argument("stack", choices=STACKS, help="the stack file Pulumi.<stack>.yaml to preview")
    parser.add_argument("--format", choices=sorted(RENDERERS), default="text")
    args = parser.parse_args(argv)
    try:
        run = run_stack(args.stack)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = build_report(run, read_stack_file(args.stack))
    sys.stdout.write(RENDERERS[args.format](report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
