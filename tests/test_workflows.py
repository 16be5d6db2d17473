"""The workflows as GitHub reads them: who may run `pulumi up`, on what, with which credentials, in which order.

The logic the workflows run lives in ``release/``; these tests read the YAML to
prove the workflows stay thin and call it the way its own tests assume, and
they run the very commands the deploy job runs against a scratch checkout.
"""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from release.__main__ import location, main
from release.stackfile import StackFile
from tests.release_support import ROOT, Checkout, MemoryCopier, MemoryRegistry, build

WORKFLOWS = ROOT / ".github" / "workflows"
SAMPLES = ROOT / "docs" / "examples"
SHA_PIN = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})$")
RUNNER_LABEL = "codebuild-flowbuilder-{stack}-runner-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"


@cache
def load(path: Path) -> dict[str, Any]:
    """A workflow file as GitHub reads it (read once; callers do not change it)."""
    document = yaml.safe_load(path.read_text())
    # PyYAML reads the `on:` key as YAML 1.1's boolean true; GitHub reads it as the string "on".
    if True in document:
        document["on"] = document.pop(True)
    return document


def workflow(name: str) -> dict[str, Any]:
    return load(WORKFLOWS / name)


def all_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(SAMPLES.glob("*.yml"))


def steps(document: dict[str, Any]):
    for job_id, job in document["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, job, step


def uses(step: dict[str, Any], action: str) -> bool:
    return step.get("uses", "").split("@")[0] == action


def step_named(job: dict[str, Any], prefix: str) -> dict[str, Any]:
    matches = [step for step in job["steps"] if step.get("name", "").startswith(prefix)]
    assert len(matches) == 1, f"one step named {prefix!r}"
    return matches[0]


def index_of(job: dict[str, Any], predicate) -> int:
    return next(i for i, step in enumerate(job["steps"]) if predicate(step))


UP = workflow("pulumi-up.yml")["jobs"]["up"]
PREVIEW = workflow("pull-request.yml")["jobs"]["pulumi-preview"]
DEPLOY = workflow("deploy.yml")["jobs"]


def test_every_workflow_starts_from_no_permissions():
    for path in all_files():
        assert load(path)["permissions"] == {}, path.name


def test_every_action_is_pinned_to_a_full_commit_sha_and_the_same_one_everywhere():
    pins: dict[str, set[str]] = {}
    for path in all_files():
        for line in path.read_text().splitlines():
            match = re.match(r"\s*(?:- )?uses:\s*(\S+)(\s+#\s*(.*))?$", line)
            if not match or match.group(1).startswith("./"):
                continue
            pin = SHA_PIN.match(match.group(1))
            assert pin, f"{path.name}: {match.group(1)} is not pinned to a commit SHA"
            assert match.group(3), f"{path.name}: {match.group(1)} has no version comment"
            pins.setdefault(pin.group("action"), set()).add(pin.group("sha"))
    assert {action: len(shas) for action, shas in pins.items() if len(shas) > 1} == {}
    for action in (
        "pulumi/actions",
        "pulumi/auth-actions",
        "docker/setup-buildx-action",
        "docker/build-push-action",
        "aws-actions/amazon-ecr-login",
        "aws-actions/configure-aws-credentials",
    ):
        assert action in pins


def test_the_pulumi_cli_is_the_version_the_sdk_is_pinned_to():
    pinned = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    versions = {
        step["with"]["pulumi-version"]
        for path in all_files()
        for _, _, step in steps(load(path))
        if uses(step, "pulumi/actions")
    }
    assert versions == {pinned}


def test_pulumi_up_runs_in_one_reusable_job_that_only_the_deploy_workflow_calls():
    ups = [
        (path.name, job_id)
        for path in all_files()
        for job_id, _, step in steps(load(path))
        if uses(step, "pulumi/actions") and step["with"]["command"] == "up"
    ]
    callers = {
        path.name
        for path in all_files()
        for job in load(path)["jobs"].values()
        if job.get("uses") == "./.github/workflows/pulumi-up.yml"
    }
    commands = {
        step["with"]["command"]
        for path in all_files()
        for _, _, step in steps(load(path))
        if uses(step, "pulumi/actions")
    }

    assert ups == [("pulumi-up.yml", "up")]
    assert callers == {"deploy.yml"}
    assert set(workflow("deploy.yml")["on"]) == {"push", "workflow_dispatch"}
    assert commands == {"up", "preview"}


def test_no_step_sets_config_creates_a_stack_or_hands_images_to_pulumi():
    for path in all_files():
        for job_id, _, step in steps(load(path)):
            where = f"{path.name}:{job_id}:{step.get('name') or step.get('uses')}"
            script = step.get("run", "")
            assert not re.search(r"\bpulumi\s+(config|up|preview|stack)\b", script), where
            if uses(step, "pulumi/actions"):
                assert not {"config-map", "upsert", "target", "replace", "exclude", "plan", "refresh"} & set(
                    step["with"]
                ), where
                assert "env" not in step, where  # credentials come from the auth steps, config from the file
            for name in step.get("env", {}):
                assert not name.startswith("PULUMI_CONFIG"), where
    assert set(workflow("pulumi-up.yml")["on"]["workflow_call"]["inputs"]) == {"stack", "project", "runs-on"}
    for job in DEPLOY.values():
        assert set(job.get("with", {})) <= {"stack", "project", "runs-on"}


def test_the_up_job_deploys_its_own_stack_file_as_committed():
    checkout = UP["steps"][0]
    backend = step_named(UP, "Backend")
    up = UP["steps"][index_of(UP, lambda step: uses(step, "pulumi/actions"))]

    assert uses(checkout, "actions/checkout") and set(checkout["with"]) == {"persist-credentials"}
    assert UP["environment"] == "${{ inputs.stack }}"
    assert backend["env"]["STACK"] == "${{ inputs.stack }}"
    assert up["with"]["stack-name"] == "${{ steps.backend.outputs.stack-name }}"
    assert up["with"]["work-dir"] == "${{ steps.backend.outputs.work-dir }}"
    assert up["with"]["cloud-url"] == "${{ steps.backend.outputs.cloud-url }}"
    assert up["with"]["secrets-provider"] == "${{ steps.backend.outputs.secrets-provider }}"
    assert up["with"]["policyPacks"] == "${{ github.workspace }}/policy"


def test_nothing_reaches_aws_or_pulumi_before_the_guard_and_the_image_check():
    order = {
        "guard": index_of(UP, lambda step: step.get("id") == "guard"),
        "aws": index_of(UP, lambda step: uses(step, "aws-actions/configure-aws-credentials")),
        "images": index_of(UP, lambda step: "ensure-images" in step.get("run", "")),
        "token": index_of(UP, lambda step: uses(step, "pulumi/auth-actions")),
        "up": index_of(UP, lambda step: uses(step, "pulumi/actions")),
    }
    assert list(order) == sorted(order, key=order.get)
    for name in ("aws", "images", "token", "up"):
        assert "steps.guard.outputs.current == 'true'" in UP["steps"][order[name]]["if"], name
    assert "inputs.project == 'base'" in UP["steps"][order["images"]]["if"]


def release_argv(step: dict[str, Any], values: dict[str, str]) -> list[str]:
    """The argv after ``python3 tasks.py release`` of a step, with its env filled in from ``values``."""
    env = {}
    for name, expression in step.get("env", {}).items():
        key = re.fullmatch(r"\$\{\{ (?:inputs|matrix|vars)\.([\w-]+) \}\}", expression)
        env[name] = values.get(key.group(1), "") if key else ""
    words = shlex.split(re.sub(r"\$(\w+)", lambda match: env.get(match.group(1), ""), step["run"]))
    assert words[:3] == ["python3", "tasks.py", "release"], step["run"]
    return words[3:]


CHAIN = ("dev", "staging", "prod", "ultra")


def test_each_deploy_runs_its_committed_digests_and_an_infrastructure_merge_keeps_them(tmp_path, monkeypatch, capsys):
    accounts = {"AWS_ACCOUNTS": "123456789012"}
    monkeypatch.setenv("AWS_ACCOUNTS", accounts["AWS_ACCOUNTS"])
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    checkout = Checkout(repo)
    released = build("released")
    for stack in CHAIN:
        checkout.file(stack).write_text(StackFile.read(checkout.file(stack)).with_images(released))
    checkout.commit("released and promoted everywhere")
    registry = MemoryRegistry()
    for image, digest in released.items():
        registry.push(location(repo, "dev", accounts), image, digest, released.source_commit)
    plan, ensure = step_named(UP, "The images this update runs"), step_named(UP, "Committed digests")

    def deploy(stack: str) -> tuple[set[str], int]:
        """Run the deploy job's release commands for ``stack``: what it shows it runs, and how many copies it made."""
        values = {"stack": stack, "project": "base", **accounts}
        capsys.readouterr()
        assert main(["--root", str(repo), *release_argv(plan, values)]) == 0
        shown = set(re.findall(r"flowbuilder-\w+/\w+@sha256:[0-9a-f]{64}", capsys.readouterr().out))
        copier = MemoryCopier(registry)
        assert (
            main(["--root", str(repo), *release_argv(ensure, values)], registry_for=lambda _: registry, copier=copier)
            == 0
        )
        return shown, len(copier.copies)

    def committed(stack: str) -> set[str]:
        return {f"flowbuilder-{stack}/{image}@{digest}" for image, digest in released.items()}

    def held(stack: str) -> set[str]:
        where = location(repo, stack, accounts)
        return {
            f"flowbuilder-{stack}/{image}@{d}"
            for image in ("api", "worker", "scheduler")
            for d in registry.holds(where, image)
        }

    assert [deploy(stack) for stack in CHAIN] == [(committed(stack), 0 if stack == "dev" else 3) for stack in CHAIN]
    assert {stack: held(stack) for stack in CHAIN} == {stack: committed(stack) for stack in CHAIN}

    for stack in CHAIN:
        text = checkout.text(stack).replace(
            "  flowbuilder:topology:", "  flowbuilder:costCenter: platform\n  flowbuilder:topology:"
        )
        checkout.file(stack).write_text(text)
    checkout.commit("an infrastructure-only change to every stack")

    assert [deploy(stack) for stack in CHAIN] == [(committed(stack), 0) for stack in CHAIN]
    assert {stack: StackFile.read(checkout.file(stack)).images for stack in CHAIN} == dict.fromkeys(CHAIN, released)


def test_the_deploy_chain_follows_the_promotion_line():
    needs = {
        job_id: set([job["needs"]] if isinstance(job["needs"], str) else job["needs"])
        for job_id, job in DEPLOY.items()
        if "needs" in job
    }
    stacks = {job_id: job["with"]["stack"] for job_id, job in DEPLOY.items() if "with" in job}

    assert needs == {
        "dev": {"test"},
        "staging": {"dev"},
        "mesh-staging": {"staging"},
        "prod": {"staging", "mesh-staging"},
        "mesh-prod": {"prod"},
        "ultra": {"staging", "mesh-staging"},
    }
    assert stacks == {
        "dev": "dev",
        "staging": "staging",
        "mesh-staging": "staging",
        "prod": "prod",
        "mesh-prod": "prod",
        "ultra": "ultra",
    }


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_mesh_deploys_run_on_the_stacks_codebuild_runner_after_the_base_stack(stack):
    mesh = DEPLOY[f"mesh-{stack}"]

    assert mesh["uses"] == "./.github/workflows/pulumi-up.yml"
    assert mesh["with"] == {"stack": stack, "project": "mesh", "runs-on": RUNNER_LABEL.format(stack=stack)}
    assert stack in ([mesh["needs"]] if isinstance(mesh["needs"], str) else mesh["needs"])
    assert UP["runs-on"] == "${{ inputs.runs-on }}"


def test_base_jobs_run_on_github_hosted_runners():
    default = workflow("pulumi-up.yml")["on"]["workflow_call"]["inputs"]["runs-on"]["default"]

    assert default == "ubuntu-24.04"
    for job_id, job in DEPLOY.items():
        if job.get("with", {}).get("project", "base") == "base":
            assert "runs-on" not in job.get("with", {}), job_id
    for path in all_files():
        for job_id, job in load(path)["jobs"].items():
            label = job.get("runs-on", "")
            if "codebuild" in label:
                pytest.fail(f"{path.name}:{job_id} names a CodeBuild runner outside the mesh jobs' inputs")


def test_pull_request_previews_run_where_they_can_reach_their_project_and_skip_ultra():
    entries = PREVIEW["strategy"]["matrix"]["include"]

    assert PREVIEW["runs-on"] == "${{ matrix.runs-on }}"
    assert {(entry["stack"], entry["project"], entry["runs-on"]) for entry in entries} == {
        ("dev", "base", "ubuntu-24.04"),
        ("staging", "base", "ubuntu-24.04"),
        ("prod", "base", "ubuntu-24.04"),
        ("staging", "mesh", RUNNER_LABEL.format(stack="staging")),
        ("prod", "mesh", RUNNER_LABEL.format(stack="prod")),
    }
    assert PREVIEW["if"] == "${{ github.event.pull_request.head.repo.full_name == github.repository }}"


def test_pull_request_code_never_holds_a_write_capable_token():
    document = workflow("pull-request.yml")
    for job_id, job in document["jobs"].items():
        runs_code = any(uses(step, "actions/checkout") for step in job["steps"])
        writes = {scope for scope, level in job["permissions"].items() if level == "write"}
        if runs_code:
            assert writes <= {"id-token"}, job_id
            assert "secrets." not in yaml.safe_dump(job), job_id
            assert "environment" not in job, job_id
        else:
            assert all(
                "python" not in step.get("run", "") and "make" not in step.get("run", "") for step in job["steps"]
            )
    role = PREVIEW["steps"][index_of(PREVIEW, lambda step: uses(step, "aws-actions/configure-aws-credentials"))]
    token = PREVIEW["steps"][index_of(PREVIEW, lambda step: uses(step, "pulumi/auth-actions"))]
    preview = PREVIEW["steps"][index_of(PREVIEW, lambda step: uses(step, "pulumi/actions"))]
    assert role["with"]["role-to-assume"] == "${{ steps.backend.outputs.preview-role }}"
    assert token["with"] == {
        "organization": "${{ steps.backend.outputs.pulumi-org }}",
        "requested-token-type": "urn:pulumi:token-type:access_token:team",
        "scope": "team:flowbuilder-preview",
    }
    assert token["if"] == "${{ vars.PULUMI_BACKEND_URL == '' }}"
    assert "comment-on-pr" not in preview["with"]


def test_deploy_credentials_exist_only_in_the_stacks_environment():
    role = UP["steps"][index_of(UP, lambda step: uses(step, "aws-actions/configure-aws-credentials"))]
    token = UP["steps"][index_of(UP, lambda step: uses(step, "pulumi/auth-actions"))]

    assert UP["environment"] == "${{ inputs.stack }}"
    assert role["with"]["role-to-assume"] == "${{ steps.backend.outputs.deploy-role }}"
    assert token["with"]["scope"] == "team:flowbuilder-deploy-${{ inputs.stack }}"
    for path in all_files():
        for job_id, _, step in steps(load(path)):
            if "deploy-role" in str(step.get("with", {})):
                assert "environment" in load(path)["jobs"][job_id], f"{path.name}:{job_id}"


def test_releases_and_promotions_are_pull_requests_that_change_one_stack_file():
    document = workflow("release.yml")
    resolve, propose = document["jobs"]["resolve"], document["jobs"]["propose"]
    change = step_named(propose, "Write the images block")
    pull = propose["steps"][index_of(propose, lambda step: uses(step, "peter-evans/create-pull-request"))]

    assert set(document["on"]) == {"workflow_dispatch"}
    assert not any(uses(step, "pulumi/actions") for _, _, step in steps(document))
    assert (resolve["environment"], propose["environment"]) == ("dev", "release")
    assert propose["permissions"] == {"contents": "read"}
    assert release_argv(change, {"stack": "prod", "source-commit": ""})[:3] == ["propose", "--stack", "prod"]
    assert pull["with"]["add-paths"] == "${{ steps.change.outputs.stack-file }}"
    assert pull["with"]["token"] == "${{ steps.app.outputs.token }}"
    assert pull["with"]["sign-commits"] is True
    checkout = propose["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0 and checkout["with"]["persist-credentials"] is False


def test_the_build_pushes_arm64_images_by_commit_with_the_attestations_lambda_accepts():
    document = workflow("build-push.yml")
    job = document["jobs"]["build"]
    builds = {step["id"]: step["with"] for step in job["steps"] if uses(step, "docker/build-push-action")}

    assert set(document["on"]) == {"workflow_call"}
    assert set(document["on"]["workflow_call"]["outputs"]) == {"source-commit", "api", "worker", "scheduler"}
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert set(builds) == {"api", "worker", "scheduler"}
    for image, inputs in builds.items():
        assert inputs["platforms"] == "linux/arm64"
        assert inputs["push"] is True
        repository = "${{ steps.ecr.outputs.registry }}/${{ inputs.repository-prefix }}/" + image
        assert inputs["tags"] == repository + ":${{ github.sha }}"
        assert inputs["cache-from"] == f"type=gha,scope={image}"
        assert job["outputs"][image] == f"${{{{ steps.{image}.outputs.digest }}}}"
    # Lambda runs api (zero-scale) and scheduler and refuses an image index, which attestations would make.
    assert [(builds[i]["provenance"], builds[i]["sbom"]) for i in ("api", "scheduler")] == [(False, False)] * 2
    assert (builds["worker"]["provenance"], builds["worker"]["sbom"]) == ("mode=max", True)
    login = [step for step in job["steps"] if step.get("uses", "").startswith("aws-actions/")]
    assert [step["uses"].split("@")[0] for step in login] == [
        "aws-actions/configure-aws-credentials",
        "aws-actions/amazon-ecr-login",
    ]


def test_the_sample_caller_builds_then_asks_for_a_dev_release_with_the_digests():
    document = load(SAMPLES / "application-release.yml")
    images, release = document["jobs"]["images"], document["jobs"]["release-to-dev"]
    dispatch = release["steps"][-1]

    assert images["uses"].split("@")[0].endswith("/.github/workflows/build-push.yml")
    assert images["permissions"] == {"contents": "read", "id-token": "write"}
    assert "gh workflow run release.yml" in dispatch["run"] and "-f stack=dev" in dispatch["run"]
    assert {dispatch["env"][name] for name in ("API", "WORKER", "SCHEDULER", "SOURCE_COMMIT")} == {
        f"${{{{ needs.images.outputs.{output} }}}}" for output in ("api", "worker", "scheduler", "source-commit")
    }


def test_ci_runs_the_workflow_checks_then_the_readme_test_command_last():
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    checks = (ROOT / ".ci" / "check-workflows").read_text()

    assert lines[-2:] == ["bash .ci/check-workflows", "python3 tasks.py test"]
    assert "python3 tasks.py test" in (ROOT / "README.md").read_text()
    assert "--builtin-schema vendor.github-workflows .github/workflows/*.yml docs/examples/*.yml" in checks
    assert 'zizmor" --offline .github/workflows/ docs/examples/*.yml' in checks
