"""Offline preview: ``python -m preview [-C DIR] <stack> [--format text|json|markdown] [--compare OTHER]``.

Runs the Pulumi program for a stack under mocks (no AWS account, no Pulumi CLI)
and prints what ``pulumi up`` would create, its idle monthly cost, the preflight
checks and the flows of its diagram. ``-C DIR`` (like ``pulumi -C``) names the
directory holding ``Pulumi.yaml`` and the stack files (default: the repository
root); the stacks are the ``Pulumi.<stack>.yaml`` files present there, and the
program always comes from this repository. ``--released`` previews the stack as
after its first release (a stand-in digest for every image its stack file does
not record yet). ``--compare OTHER`` shows what
differs between the two stacks instead; ``python -m preview docs`` refreshes
the generated diagrams and README blocks (``--check`` only reports).

Exits 2 on a bad command line or configuration error (naming the file and key)
before anything is run or written; 1 when a preflight check fails (an error
``pulumi up`` would meet) or a mandatory rule of the policy pack (policy/) is
violated; 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import asdict
from pathlib import Path

from policy.offline import evaluate, policy_section
from stackconfig import ConfigError, Project, read_project
from stackconfig.model import MAX_RUN_MINUTES

from .analysis import Analysis, analyse
from .compare import compare
from .harness import ROOT, run_stack, stack_config
from .render import RENDERERS
from .render_sections import compare_markdown, compare_text

COMPARE_RENDERERS = {
    "text": compare_text,
    "markdown": compare_markdown,
    "json": lambda comparison: json.dumps(asdict(comparison), indent=2, default=str) + "\n",
}


def _preview(stack: str, args: argparse.Namespace) -> tuple[Analysis, bool]:
    """The stack's analysis (with the policy section) and whether a mandatory policy failed."""
    overrides = None
    if args.released:
        # Imported here, as for the docs subcommand: a plain preview never needs it.
        from .docs import released_overrides

        overrides = released_overrides(stack, args.directory)
    config = stack_config(stack, overrides, args.directory)
    run = run_stack(stack, overrides=overrides, directory=args.directory)
    analysis = analyse(run, config, job_minutes=args.job_minutes, free_tier=not args.no_free_tier)
    findings = evaluate(run, config)
    analysis.report.sections["policy"] = policy_section(findings)
    return analysis, any(finding.mandatory for finding in findings)


def _docs(argv: list[str]) -> int:
    # Imported here: it previews every stack, which a single-stack preview never needs.
    from . import docs

    parser = argparse.ArgumentParser(
        prog="python -m preview docs", description="Refresh docs/diagrams/*.mmd and README blocks."
    )
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    args = parser.parse_args(argv)
    try:
        analyses = docs.all_stacks()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        stale = docs.stale(analyses)
        for path in stale:
            print(f"stale: {path.relative_to(docs.ROOT)} (run `python -m preview docs`)", file=sys.stderr)
        return 1 if stale else 0
    for path in docs.write(analyses):
        print(f"wrote {path.relative_to(docs.ROOT)}")
    return 0


class UsageError(Exception):
    """A command-line argument the preview refuses; reported with the usage, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit; main() returns 2 instead
        raise UsageError(message)


def _job_minutes(text: str) -> float:
    try:
        minutes = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
    if not math.isfinite(minutes) or not 0 < minutes <= MAX_RUN_MINUTES:
        raise argparse.ArgumentTypeError(
            f"{text} is not allowed; allowed: above 0 up to {MAX_RUN_MINUTES} minutes (worker.maxRunMinutes' limit)"
        )
    return minutes


def _project(directory: Path) -> Project:
    if not directory.exists():
        raise UsageError(f"-C {directory}: no such directory")
    if not directory.is_dir():
        raise UsageError(f"-C {directory}: is a file; name the directory that holds Pulumi.yaml")
    return read_project(directory)


def _known_stack(project: Project, stack: str, what: str) -> None:
    stacks = project.stacks()
    if stack not in stacks:
        present = ", ".join(stacks) if stacks else "none"
        raise UsageError(
            f"{what} {stack!r}: there is no {project.stack_path(stack).name} in {project.stack_config_dir}; "
            f"stacks there (from the Pulumi.<stack>.yaml files): {present}"
        )


def _writable_file(text: str) -> Path:
    """``--diagram``: a file that can be written, checked before anything runs."""
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        raise UsageError(f"--diagram {text}: is a directory; name a file, e.g. {path / 'diagram.mmd'}")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise UsageError(f"--diagram {text}: the file is not writable")
        return path
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"--diagram {text}: cannot create it, {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--diagram {text}: cannot create it, {parent} is not writable")
    return path


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="python -m preview", description=__doc__.splitlines()[0])
    parser.add_argument(
        "-C",
        dest="directory",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="directory holding Pulumi.yaml and the stack files (default: the repository root)",
    )
    parser.add_argument("stack", help="the stack to preview: Pulumi.<stack>.yaml in DIR")
    parser.add_argument("--format", choices=sorted(RENDERERS), default="text")
    parser.add_argument("--compare", metavar="OTHER", help="show what differs from STACK to OTHER")
    parser.add_argument("--diagram", metavar="PATH", help="also write the stack's Mermaid diagram to PATH")
    parser.add_argument(
        "--job-minutes", type=_job_minutes, default=10.0, help="length of the worker job priced (default 10)"
    )
    parser.add_argument("--no-free-tier", action="store_true", help="price without the CloudWatch free tier")
    parser.add_argument(
        "--released",
        action="store_true",
        help="preview as if every image had a digest (the stack after its first release)",
    )
    args = parser.parse_args(argv)
    args.project = _project(args.directory)
    _known_stack(args.project, args.stack, "STACK")
    if args.compare is not None:
        _known_stack(args.project, args.compare, "--compare")
        if args.compare == args.stack:
            raise UsageError(f"--compare {args.compare}: compare {args.stack} with another stack")
    args.diagram = _writable_file(args.diagram) if args.diagram is not None else None
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["docs"]:
        return _docs(argv[1:])
    if argv[:1] == ["bootstrap"]:
        from .bootstrap import main as bootstrap_main  # the bootstrap program, not a stack of this one

        return bootstrap_main(argv[1:])
    try:
        args = _arguments(argv)
    except UsageError as error:
        print(f"usage: python -m preview [-C DIR] STACK [options]  (--help for all)\nerror: {error}", file=sys.stderr)
        return 2
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        analysis, policy_failed = _preview(args.stack, args)
        other = _preview(args.compare, args) if args.compare else None
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.diagram is not None:
        args.diagram.parent.mkdir(parents=True, exist_ok=True)
        args.diagram.write_text(analysis.diagram.mermaid)
    if other is None:
        sys.stdout.write(RENDERERS[args.format](analysis.report))
        return 1 if policy_failed or not analysis.preflight.ok else 0
    (after, after_policy_failed) = other
    comparison = compare(analysis.run, after.run, analysis.cost, after.cost, analysis.preflight, after.preflight)
    sys.stdout.write(COMPARE_RENDERERS[args.format](comparison))
    failed = policy_failed or after_policy_failed or not (analysis.preflight.ok and after.preflight.ok)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
