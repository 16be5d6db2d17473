"""Backend, roles and stack names from the repository variables; the guard against deploying a stale commit."""

from __future__ import annotations

import io
import json

import pytest

from release import github
from release.__main__ import main
from release.backend import backend_for
from release.images import ReleaseError
from tests.release_support import Checkout, commit_sha

KMS = "awskms://alias/flowbuilder-secrets?region=us-east-1&context_stack={stack}"


@pytest.fixture
def checkout(tmp_path) -> Checkout:
    repo = tmp_path / "repo"
    repo.mkdir()
    return Checkout(repo)


def with_provider(checkout: Checkout, stack: str, provider: str) -> None:
    path = checkout.root / f"Pulumi.{stack}.yaml"
    text = path.read_text() if path.exists() else "config: {}\n"
    path.write_text(text + f"secretsprovider: {provider}\nencryptedkey: AQICAHh=\n")


def test_pulumi_cloud_names_the_stack_in_the_organization(checkout):
    settings = backend_for(checkout.root, "staging", "base", {"AWS_ACCOUNTS": "123456789012", "PULUMI_ORG": "acme"})

    assert settings.outputs() == {
        "work-dir": ".",
        "stack-name": "acme/staging",
        "cloud-url": "",
        "secrets-provider": "",
        "pulumi-org": "acme",
        "region": "us-east-1",
        "account": "123456789012",
        "deploy-role": "arn:aws:iam::123456789012:role/flowbuilder-deploy-staging",
        "preview-role": "arn:aws:iam::123456789012:role/flowbuilder-preview",
    }


def test_each_stack_can_live_in_its_own_account(checkout):
    accounts = json.dumps({"dev": "111111111111", "prod": "333333333333"})
    variables = {"AWS_ACCOUNTS": accounts, "PULUMI_ORG": "acme"}

    prod = backend_for(checkout.root, "prod", "mesh", variables)

    assert prod.work_dir == "mesh"
    assert prod.aws.deploy_role == "arn:aws:iam::333333333333:role/flowbuilder-deploy-prod"
    assert prod.aws.preview_role == "arn:aws:iam::333333333333:role/flowbuilder-preview"
    with pytest.raises(ReleaseError, match="names no account for staging"):
        backend_for(checkout.root, "staging", "base", variables)


def test_the_self_managed_backend_needs_a_per_stack_kms_context(checkout):
    variables = {"AWS_ACCOUNTS": "123456789012", "PULUMI_BACKEND_URL": "s3://flowbuilder-state?region=us-east-1"}
    with_provider(checkout, "ultra", KMS.format(stack="ultra"))

    settings = backend_for(checkout.root, "ultra", "base", variables)

    assert (settings.cloud_url, settings.stack_name) == ("s3://flowbuilder-state?region=us-east-1", "ultra")
    assert settings.secrets_provider == KMS.format(stack="ultra")
    with_provider(checkout, "dev", KMS.format(stack="ultra"))
    with pytest.raises(ReleaseError, match="must carry context_stack=dev"):
        backend_for(checkout.root, "dev", "base", variables)
    with pytest.raises(ReleaseError, match="needs secretsprovider: awskms"):
        backend_for(checkout.root, "staging", "base", variables)


def test_the_mesh_project_reads_the_base_stack_file_for_the_provider(checkout):
    variables = {"AWS_ACCOUNTS": "123456789012", "PULUMI_BACKEND_URL": "s3://flowbuilder-state"}
    with pytest.raises(ReleaseError, match="needs secretsprovider: awskms"):
        backend_for(checkout.root, "prod", "mesh", variables)

    # stackConfigDir: .. - the one Pulumi.prod.yaml at the root serves both projects.
    with_provider(checkout, "prod", KMS.format(stack="prod"))

    assert backend_for(checkout.root, "prod", "mesh", variables).secrets_provider == KMS.format(stack="prod")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"PULUMI_ORG": "acme"}, "AWS_ACCOUNTS is not set"),
        ({"AWS_ACCOUNTS": "12345", "PULUMI_ORG": "acme"}, "neither a 12-digit account id nor a JSON object"),
        ({"AWS_ACCOUNTS": '{"dev": "12"}', "PULUMI_ORG": "acme"}, "'12' is not a 12-digit account id"),
        ({"AWS_ACCOUNTS": "123456789012"}, "PULUMI_ORG is not set"),
        ({"AWS_ACCOUNTS": "123456789012", "PULUMI_BACKEND_URL": "gs://state"}, "an s3:// bucket URL"),
    ],
)
def test_bad_variables_are_named(checkout, variables, message):
    with pytest.raises(ReleaseError, match=message):
        backend_for(checkout.root, "dev", "base", variables)


def test_an_unknown_project_is_refused(checkout):
    with pytest.raises(ReleaseError, match="expected one of base, mesh"):
        backend_for(checkout.root, "dev", "frontend", {"AWS_ACCOUNTS": "123456789012", "PULUMI_ORG": "acme"})


def test_the_backend_command_writes_step_outputs(checkout, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("AWS_ACCOUNTS", "123456789012")
    monkeypatch.setenv("PULUMI_ORG", "acme")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)

    assert main(["--root", str(checkout.root), "backend", "--stack", "dev", "--project", "base"]) == 0

    text = (tmp_path / "out").read_text()
    assert "stack-name<<" in text and "\nacme/dev\n" in text
    assert "\narn:aws:iam::123456789012:role/flowbuilder-deploy-dev\n" in text


@pytest.mark.parametrize(("head", "current"), [(commit_sha("this"), "true"), (commit_sha("newer"), "false")])
def test_the_guard_lets_only_the_head_of_main_deploy(tmp_path, monkeypatch, capsys, head, current):
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("GITHUB_SHA", commit_sha("this"))
    asked = []

    def head_of(branch):
        asked.append(branch)
        return head

    assert main(["guard", "--branch", "main"], head=head_of) == 0

    assert asked == ["main"]
    assert (tmp_path / "out").read_text().split("\n")[1] == current
    assert ("no longer the head of main" in capsys.readouterr().out) == (current == "false")


def test_the_guard_outside_actions_says_what_is_missing(monkeypatch, capsys):
    for name in ("GITHUB_SHA", "GITHUB_REPOSITORY", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    assert main(["guard", "--branch", "main"]) == 1
    assert "GITHUB_SHA, GITHUB_REPOSITORY, GITHUB_TOKEN not set" in capsys.readouterr().err


def test_the_head_of_a_branch_comes_from_the_commits_api():
    seen = []

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def opener(request, timeout):
        seen.append((request.full_url, dict(request.header_items()), timeout))
        return Response(commit_sha("head").encode() + b"\n")

    assert github.head_commit("https://api.github.com/", "acme/infra", "main", "t0ken", opener) == commit_sha("head")
    url, headers, _ = seen[0]
    assert url == "https://api.github.com/repos/acme/infra/commits/main"
    assert headers["Accept"] == "application/vnd.github.sha"
    assert headers["Authorization"] == "Bearer t0ken"

    def garbage(request, timeout):
        return Response(b'{"message": "Not Found"}')

    with pytest.raises(ReleaseError, match="not a commit SHA"):
        github.head_commit("https://api.github.com", "acme/infra", "main", "t0ken", garbage)
