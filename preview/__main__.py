"""Offline preview: ``python -m preview <stack> [--format text|json|markdown] [--compare OTHER]``.

Runs the Pulumi program for a committed stack under mocks (no AWS account, no
Pulumi CLI) and prints what ``pulumi up`` would create, its idle monthly cost,
the preflight checks and the flows of its diagram. ``--compare OTHER`` shows
what differs between the two stacks instead; ``python -m preview docs``
refreshes the generated diagrams and README blocks (``--check`` only reports).

Exits 2 on a configuration error, with the error naming the stack file and
key; 1 when a preflight check fails (an error ``pulumi up`` would meet) or a
mandatory rule of the policy pack (policy/) is violated; 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from policy.offline import evaluate, policy_section
from simulation.harness import PROJECT, STACKS, run_stack, stack_config
from stackconfig import ConfigError

from .analysis import Analysis, analyse
from .report.compare import compare
from .report.render import RENDERERS
from .report.sections import compare_markdown, compare_text

COMPARE_RENDERERS = {
    "text": compare_text,
    "markdown": compare_markdown,
    "json": lambda comparison: json.dumps(asdict(comparison), indent=2, default=str) + "\n",
}


def _preview(stack: str, args: argparse.Namespace) -> tuple[Analysis, bool]:
    """The stack's analysis (with the policy section) and whether a mandatory policy failed."""
    overrides = {f"{PROJECT}:imageTag": args.image_tag} if args.image_tag else None
    config = stack_config(stack, overrides)
    run = run_stack(stack, overrides=overrides)
    analysis = analyse(run, config, job_minutes=args.job_minutes, free_tier=not args.no_free_tier)
    findings = evaluate(run, config)
    analysis.report.sections["policy"] = policy_section(findings)
    return analysis, any(finding.mandatory for finding in findings)


def _docs(argv: list[str]) -> int:
    # Imported here: it previews every stack, which a single-stack preview never needs.
    from .report import docs

    parser = argparse.ArgumentParser(
        prog="python -m preview docs", description="Refresh docs/diagrams/*.mmd and README blocks."
    )
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    args = parser.parse_args(argv)
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
    parser.add_argument("stack", choices=STACKS, help="the stack file Pulumi.<stack>.yaml to preview")
    parser.add_argument("--format", choices=sorted(RENDERERS), default="text")
    parser.add_argument("--compare", choices=STACKS, metavar="OTHER", help="show what differs from STACK to OTHER")
    parser.add_argument("--diagram", type=Path, metavar="PATH", help="also write the stack's Mermaid diagram to PATH")
    parser.add_argument("--job-minutes", type=float, default=10, help="length of the worker job priced (default 10)")
    parser.add_argument("--no-free-tier", action="store_true", help="price without the CloudWatch free tier")
    parser.add_argument("--image-tag", help="preview as if imageTag were set (the stack after its first image push)")
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
