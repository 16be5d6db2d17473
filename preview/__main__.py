"""Offline preview: ``python -m preview [-C DIR] <stack>|--all [--format text|json|markdown] [--compare OTHER]``.

Runs the Pulumi program for a stack under mocks (no AWS account, no Pulumi CLI)
and prints what ``pulumi up`` would create, its idle monthly cost, the preflight
checks and the flows of its diagram. ``-C DIR`` (like ``pulumi -C``) names the
directory holding ``Pulumi.yaml`` and the stack files (default: the repository
root); the stacks are the ``Pulumi.<stack>.yaml`` files present there, and the
program always comes from this repository. ``--all`` previews every stack there
in one process, one report after the other (JSON: a list of reports).
``--released`` previews a stack as after its first release (a stand-in digest
for every image its stack file does not record yet). ``--compare OTHER`` shows
what differs between the two stacks instead; ``python -m preview docs``
refreshes the generated diagrams and README blocks (``--check`` only reports);
``python -m preview bootstrap`` previews the bootstrap program.

Exits 2 on a bad command line or configuration error (naming the file and key)
before anything is run or written; 1 when a preflight check fails (an error
``pulumi up`` would meet) or a mandatory rule of the policy pack (policy/) is
violated; 0 otherwise.
"""

from __future__ import annotations

import gc
import os
import sys

if __name__ == "__main__":
    # One short-lived process: the cyclic collector would walk the SDK's classes over
    # and over for garbage nobody waits for. Off from here on; back on, past the
    # imports, only where several stacks run in the process (see _several).
    gc.disable()

import argparse  # noqa: E402 - after the collector is off, so the imports run without it too
import json  # noqa: E402
import math  # noqa: E402
from dataclasses import asdict  # noqa: E402
from pathlib import Path  # noqa: E402

from policy.offline import evaluate  # noqa: E402
from simulation.harness import ROOT, run_stack, stack_config, stacks  # noqa: E402
from stackconfig import ConfigError, Project, read_project  # noqa: E402
from stackconfig.model import MAX_RUN_MINUTES  # noqa: E402

from .analysis import Analysis, analyse  # noqa: E402
from .checks.policy import policy_section  # noqa: E402
from .checks.security import security_section  # noqa: E402
from .report.compare import compare  # noqa: E402
from .report.render import RENDERERS  # noqa: E402
from .report.sections import compare_markdown, compare_text  # noqa: E402

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
        from .report.docs import released_overrides

        overrides = released_overrides(stack, args.directory)
    run = run_stack(stack, overrides=overrides, directory=args.directory)
    analysis = analyse(run, job_minutes=args.job_minutes, free_tier=not args.no_free_tier)
    # The pack reads the stack's config as the CLI hands it over: the stack file's keys.
    findings = evaluate(run, stack_config(stack, overrides, args.directory))
    analysis.report.sections["policy"] = policy_section(findings)
    analysis.report.sections["security"] = security_section(run)
    return analysis, any(finding.mandatory for finding in findings)


def _several() -> None:
    """Several stacks run in this process: let the harness collect once after each run."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _docs(argv: list[str]) -> int:
    # Imported here: it previews every stack, which a single-stack preview never needs.
    from .report import docs

    parser = argparse.ArgumentParser(
        prog="python -m preview docs", description="Refresh docs/diagrams/*.mmd and README blocks."
    )
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    args = parser.parse_args(argv)
    _several()
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
    parser.add_argument("stack", nargs="?", help="the stack to preview: Pulumi.<stack>.yaml in DIR")
    parser.add_argument("--all", action="store_true", help="preview every stack in DIR, one report after the other")
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
    if args.all == (args.stack is not None) or (args.all and (args.compare or args.diagram)):
        raise UsageError("name one STACK, or --all (without --compare and --diagram)")
    args.project = _project(args.directory)
    if args.all:
        if not args.project.stacks():
            raise UsageError(f"--all: no Pulumi.<stack>.yaml in {args.project.stack_config_dir}")
        return args
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
        print(
            f"usage: python -m preview [-C DIR] STACK|--all [options]  (--help for all)\nerror: {error}",
            file=sys.stderr,
        )
        return 2
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.all:
        return _all(args)
    if args.compare:
        _several()
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


def _all(args: argparse.Namespace) -> int:
    """Every stack's report (the stack files present in ``-C DIR``), in one process; the worst exit
    code (a configuration error stops there)."""
    _several()
    outcomes = []
    for stack in stacks(args.directory):
        try:
            outcomes.append(_preview(stack, args))
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    if args.format == "json":
        reports = [asdict(analysis.report) for analysis, _ in outcomes]
        sys.stdout.write(json.dumps(reports, indent=2, default=str) + "\n")
    else:
        sys.stdout.write("\n".join(RENDERERS[args.format](analysis.report) for analysis, _ in outcomes))
    return 1 if any(failed or not analysis.preflight.ok for analysis, failed in outcomes) else 0


def _exit(code: int) -> None:
    """End the process once its output is out, without tearing the interpreter down object by object."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
