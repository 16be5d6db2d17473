"""Offline preview: ``python -m preview <stack> [--format text|json|markdown] [--compare OTHER]``.

Runs the Pulumi program for a committed stack under mocks (no AWS account, no
Pulumi CLI) and prints what ``pulumi up`` would create, its idle monthly cost,
the preflight checks and the flows of its diagram. ``--all`` previews every
stack in one process, one report after the other (JSON: a list of reports);
``--compare OTHER`` shows what differs between the two stacks instead;
``python -m preview docs`` refreshes the generated diagrams and README blocks
(``--check`` only reports).

Exits 2 on a configuration error, with the error naming the stack file and
key; 1 when a preflight check fails (an error ``pulumi up`` would meet) or a
mandatory rule of the policy pack (policy/) is violated; 0 otherwise.
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
from dataclasses import asdict  # noqa: E402
from pathlib import Path  # noqa: E402

from policy.offline import evaluate  # noqa: E402
from simulation.harness import PROJECT, STACKS, run_stack, stack_config  # noqa: E402
from stackconfig import ConfigError  # noqa: E402

from .analysis import Analysis, analyse  # noqa: E402
from .checks.policy import policy_section  # noqa: E402
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
    overrides = {f"{PROJECT}:imageTag": args.image_tag} if args.image_tag else None
    run = run_stack(stack, overrides=overrides)
    analysis = analyse(run, job_minutes=args.job_minutes, free_tier=not args.no_free_tier)
    # The pack reads the stack's config as the CLI hands it over: the stack file's keys.
    findings = evaluate(run, stack_config(stack, overrides))
    analysis.report.sections["policy"] = policy_section(findings)
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
    analyses = docs.all_stacks()
    if args.check:
        stale = docs.stale(analyses)
        for path in stale:
            print(f"stale: {path.relative_to(docs.ROOT)} (run `python -m preview docs`)", file=sys.stderr)
        return 1 if stale else 0
    for path in docs.write(analyses):
        print(f"wrote {path.relative_to(docs.ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["docs"]:
        return _docs(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m preview", description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", choices=STACKS, help="the stack file Pulumi.<stack>.yaml to preview")
    parser.add_argument("--all", action="store_true", help="preview every stack, one report after the other")
    parser.add_argument("--format", choices=sorted(RENDERERS), default="text")
    parser.add_argument("--compare", choices=STACKS, metavar="OTHER", help="show what differs from STACK to OTHER")
    parser.add_argument("--diagram", type=Path, metavar="PATH", help="also write the stack's Mermaid diagram to PATH")
    parser.add_argument("--job-minutes", type=float, default=10, help="length of the worker job priced (default 10)")
    parser.add_argument("--no-free-tier", action="store_true", help="price without the CloudWatch free tier")
    parser.add_argument("--image-tag", help="preview as if imageTag were set (the stack after its first image push)")
    args = parser.parse_args(argv)
    if args.all == bool(args.stack) or (args.all and (args.compare or args.diagram)):
        parser.error("name one STACK, or --all (without --compare and --diagram)")
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
    if args.diagram:
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
    """Every stack's report, in one process; the worst exit code (a configuration error stops there)."""
    _several()
    outcomes = []
    for stack in STACKS:
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
