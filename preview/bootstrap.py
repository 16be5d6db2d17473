"""The bootstrap program's offline preview: ``python -m preview bootstrap [-C DIR] [STACK] [--format ...]``.

Runs ``bootstrap/__main__.py`` under the same mocks as the main program, with
``<DIR>/Pulumi.<STACK>.yaml`` (``DIR`` defaults to ``bootstrap/``, ``STACK`` to
``example``; the program always comes from the repository), and prints the same
report: resources by component, their idle cost, preflight and the policy pack.
Exits 2 on a configuration error, 1 on a preflight finding or a mandatory
policy violation, 0 otherwise.
"""

from __future__ import annotations

import argparse
import functools
import json
import runpy
import sys
from pathlib import Path

import yaml

from bootstrap.config import BootstrapConfigError
from policy.offline import evaluate
from simulation.harness import ROOT, StackRun, run_program

from .analysis import Analysis, analyse
from .checks.policy import policy_section
from .report.render import RENDERERS

BOOTSTRAP_DIR = ROOT / "bootstrap"
BOOTSTRAP_PROJECT = yaml.safe_load((BOOTSTRAP_DIR / "Pulumi.yaml").read_text())["name"]


def bootstrap_config(
    stack: str, overrides: dict[str, object] | None = None, directory: Path = BOOTSTRAP_DIR
) -> dict[str, str]:
    """The ``config:`` block of ``<directory>/Pulumi.<stack>.yaml`` as the CLI passes it (JSON for objects)."""
    document = yaml.safe_load((directory / f"Pulumi.{stack}.yaml").read_text()) or {}
    config = dict(document.get("config") or {})
    for key, value in (overrides or {}).items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


def run_bootstrap(
    stack: str = "example", overrides: dict[str, object] | None = None, directory: Path = BOOTSTRAP_DIR
) -> StackRun:
    """The bootstrap program under mocks; each distinct run is made once per process (treat it as read-only)."""
    return _run_once(stack, json.dumps(overrides or {}, sort_keys=True), directory)


@functools.cache
def _run_once(stack: str, overrides_json: str, directory: Path) -> StackRun:
    return run_program(
        lambda: runpy.run_path(str(BOOTSTRAP_DIR / "__main__.py"), run_name="__main__"),
        stack=stack,
        config=bootstrap_config(stack, json.loads(overrides_json), directory),
        project=BOOTSTRAP_PROJECT,
    )


def preview_bootstrap(stack: str, directory: Path = BOOTSTRAP_DIR) -> tuple[Analysis, bool]:
    """The bootstrap stack's analysis with the policy section, and whether a mandatory rule failed."""
    config = bootstrap_config(stack, directory=directory)
    analysis = analyse(run_bootstrap(stack, directory=directory), region=config.get("aws:region", "us-east-1"))
    # One program per account: no topology or size tier, and no data flows to draw.
    analysis.report.topology, analysis.report.environment = "bootstrap", "account"
    del analysis.report.sections["diagram"]
    findings = evaluate(analysis.run, config)
    analysis.report.sections["policy"] = policy_section(findings)
    return analysis, any(finding.mandatory for finding in findings)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m preview bootstrap", description=__doc__.splitlines()[0])
    parser.add_argument("-C", dest="directory", type=Path, default=BOOTSTRAP_DIR, help="where the stack files are")
    parser.add_argument("stack", nargs="?", default="example", help="the stack file Pulumi.<stack>.yaml to preview")
    parser.add_argument("--format", choices=sorted(RENDERERS), default="text")
    args = parser.parse_args(argv)
    present = sorted(path.name.split(".")[1] for path in args.directory.glob("Pulumi.*.yaml"))
    if args.stack not in present:
        parser.error(f"no {args.directory}/Pulumi.{args.stack}.yaml; stacks there: {', '.join(present) or 'none'}")
    try:
        analysis, policy_failed = preview_bootstrap(args.stack, args.directory.resolve())
    except BootstrapConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(RENDERERS[args.format](analysis.report))
    return 1 if policy_failed or not analysis.preflight.ok else 0
