"""``python -m preview``: the three formats, --compare, --diagram, exit codes, and the generated docs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pulumi_aws as aws
import pytest

import preview.__main__ as cli
from preview.report import docs
from simulation.harness import ROOT, STACKS, run_stack

from .conftest import committed_run
from .preview_support import program


@pytest.fixture
def offline(monkeypatch):
    """Committed stacks from the session cache, and the policy pack left out (it has its own tests)."""
    monkeypatch.setattr(
        cli,
        "run_stack",
        lambda stack, overrides=None, **_: committed_run(stack) if not overrides else run_stack(stack, overrides),
    )
    monkeypatch.setattr(cli, "evaluate", lambda run, config: [])


def test_text_shows_resources_cost_preflight_and_flows(offline, capsys):
    assert cli.main(["dev"]) == 0
    out = capsys.readouterr().out
    assert "Stack dev: standard topology, dev sizes, us-east-1" in out
    assert "Idle monthly cost: $" in out and "total at idle" in out
    assert "Left out (billed per use):" in out
    assert "Preflight: PASSED" in out
    assert "Internet --> ALB" in out
    assert out.index("Idle monthly cost") < out.index("Preflight:") < out.index("Stack outputs")


def test_json_carries_every_section(offline, capsys):
    assert cli.main(["ultra", "--format", "json", "--job-minutes", "30"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"cost", "preflight", "diagram", "policy"} <= set(report["sections"])
    cost = report["sections"]["cost"]
    assert cost["region"] == "us-east-1"
    assert cost["jobs"][0]["minutes"] == 30
    assert report["sections"]["preflight"]["findings"] == []
    assert report["sections"]["diagram"]["mermaid"].startswith("flowchart LR")


def test_markdown_is_a_pull_request_comment(offline, capsys):
    assert cli.main(["prod", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Offline preview of `prod`")
    assert "**Preflight: passed**" in out
    assert "| monthly | component | resource | item | quantity |" in out
    assert "```mermaid\nflowchart LR" in out
    assert (
        out.index("Preflight")
        < out.index("Idle monthly cost")
        < out.index("```mermaid")
        < out.index("<summary>Resources")
    )


def test_no_free_tier_costs_more(offline, capsys):
    cli.main(["dev", "--format", "json"])
    with_tier = json.loads(capsys.readouterr().out)["sections"]["cost"]["total_usd"]
    cli.main(["dev", "--format", "json", "--no-free-tier"])
    without = json.loads(capsys.readouterr().out)["sections"]["cost"]["total_usd"]
    assert without > with_tier


def test_diagram_is_written_to_a_file(offline, tmp_path, capsys):
    target = tmp_path / "diagrams" / "ultra.mmd"
    assert cli.main(["ultra", "--diagram", str(target)]) == 0
    assert target.read_text().startswith("flowchart LR\n")
    assert "external PostgreSQL" in target.read_text()


@pytest.mark.parametrize("fmt, expected", [("text", "dev -> prod: what promoting"), ("markdown", "### `dev` → `prod`")])
def test_compare_formats(offline, capsys, fmt, expected):
    assert cli.main(["dev", "--compare", "prod", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert expected in out
    assert "instanceClass" in out


def test_compare_json(offline, capsys):
    assert cli.main(["dev", "--compare", "prod", "--format", "json"]) == 0
    comparison = json.loads(capsys.readouterr().out)
    assert (comparison["before"], comparison["after"]) == ("dev", "prod")
    assert comparison["after_total_usd"] > comparison["before_total_usd"]


def test_a_failing_preflight_check_exits_1(monkeypatch, capsys):
    def broken():
        aws.lambda_.Function(
            "flowbuilder-dev-fn",
            package_type="Image",
            image_uri="fn:1",
            role="arn:aws:iam::123456789012:role/fn",
            timeout=1200,
        )

    monkeypatch.setattr(cli, "run_stack", lambda stack, overrides=None, **_: program(broken))
    monkeypatch.setattr(cli, "evaluate", lambda run, config: [])
    assert cli.main(["dev"]) == 1
    assert (
        "[lambda-limits] flowbuilder-dev-fn (aws:lambda/function:Function): timeout 1200 s is outside 1-900 s"
        in capsys.readouterr().out
    )


def test_a_configuration_error_exits_2(monkeypatch, capsys):
    monkeypatch.setattr(
        cli,
        "run_stack",
        lambda stack, overrides=None, **options: run_stack(stack, {"flowbuilder:images": {"api": "latest"}}, **options),
    )
    assert cli.main(["dev"]) == 2
    assert "flowbuilder:images.api" in capsys.readouterr().err


def test_released_previews_every_image_by_digest(capsys):
    assert cli.main(["prod", "--released", "--format", "json"]) == 0
    outputs = json.loads(capsys.readouterr().out)["outputs"]
    assert "imagesToPush" not in outputs
    assert outputs["containerImages"]["api"].endswith(f"/flowbuilder-prod/api@{docs.fake_digest('api')}")


def test_all_previews_every_stack_in_one_process(offline, capsys):
    assert cli.main(["--all", "--format", "json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [report["stack"] for report in reports] == list(STACKS)
    assert [report["topology"] for report in reports] == ["standard", "standard", "standard", "zero-scale"]


def test_all_previews_the_stacks_present_in_the_directory(offline, tmp_path, capsys):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    for stack in ("ultra", "dev"):
        shutil.copy(ROOT / f"Pulumi.{stack}.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    assert cli.main(["-C", str(tmp_path), "--all", "--format", "json"]) == 0
    assert [report["stack"] for report in json.loads(capsys.readouterr().out)] == ["dev", "ultra"]


@pytest.mark.parametrize("argv", [[], ["dev", "--all"], ["--all", "--compare", "prod"], ["--all", "--diagram", "d"]])
def test_one_stack_or_all(offline, argv, capsys):
    assert cli.main(argv) == 2
    assert "name one STACK, or --all" in capsys.readouterr().err


def test_all_in_a_directory_without_stack_files_is_refused(tmp_path, capsys):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    assert cli.main(["-C", str(tmp_path), "--all"]) == 2
    assert f"--all: no Pulumi.<stack>.yaml in {tmp_path}" in capsys.readouterr().err


FORMATS = ("json", "text", "markdown")
IN_ANOTHER_PROCESS = (
    "import sys, preview.__main__ as cli\n"
    f"for fmt in {FORMATS!r}:\n"
    "    cli.main(['--all', '--format', fmt])\n"
    "    sys.stdout.write('\\f')\n"
)


def test_the_preview_says_the_same_thing_in_another_process(capsys):
    """Every stack in every format, here and in a fresh process with another hash seed: byte for byte the same."""
    here = []
    for fmt in FORMATS:
        cli.main(["--all", "--format", fmt])
        here.append(capsys.readouterr().out.encode())
    seed = os.environ.get("PYTHONHASHSEED", "")
    other_seed = "0" if seed in ("", "random") else str(int(seed) + 1)
    there = subprocess.run(
        [sys.executable, "-c", IN_ANOTHER_PROCESS],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": other_seed},
        capture_output=True,
        check=True,
    ).stdout.split(b"\f")[:-1]
    assert b"## Offline preview of `ultra`" in here[2]
    assert there == here


# -- generated docs ----------------------------------------------------------------------------
def test_readme_cost_table_and_diagrams_are_current():
    stale = docs.stale(docs.all_stacks())
    assert stale == [], f"run `python -m preview docs`; stale: {[str(p) for p in stale]}"


def test_readme_blocks_are_replaced_in_place_or_appended():
    blocks = {"cost-table": "| new |", "diagram:dev": "```mermaid\nflowchart LR\n```"}
    text = "# Title\n\nintro\n\n<!-- cost-table -->\n| old |\n<!-- /cost-table -->\n\nmore\n"
    refreshed = docs.refresh_readme(text, blocks)
    assert refreshed.startswith("# Title\n\nintro\n\n<!-- cost-table -->\n| new |\n<!-- /cost-table -->\n\nmore\n")
    assert refreshed.endswith(
        "## Idle cost and diagrams\n\nGenerated by `python -m preview docs`.\n\n"
        "<!-- diagram:dev -->\n```mermaid\nflowchart LR\n```\n<!-- /diagram:dev -->\n"
    )
    assert docs.refresh_readme(refreshed, blocks) == refreshed


def test_cost_table_lists_every_stack_with_its_biggest_lines():
    table = docs.cost_table(docs.all_stacks())
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert [row.split("|")[1].strip() for row in rows] == ["`dev`", "`staging`", "`prod`", "`ultra`"]
    dev = docs.deployed("dev").cost
    assert f"| `dev` | standard | us-east-1 | ${dev.total_usd:,.2f} |" in table
