"""Releases and promotions as the release workflow runs them: one stack file's images block, from its source."""

from __future__ import annotations

import pytest

from release.__main__ import main
from release.line import SOURCES, history, source_of
from release.stackfile import StackFile
from tests.release_support import STACKS, Checkout, build

A, B = build("a"), build("b")


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Checkout:
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github-output"))
    monkeypatch.delenv("APP_REPOSITORY", raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    return Checkout(repo)


def outputs(checkout: Checkout) -> dict[str, str]:
    """The last value of each step output written so far."""
    lines = (checkout.root.parent / "github-output").read_text().splitlines()
    values, i = {}, 0
    while i < len(lines):
        name, delimiter = lines[i].split("<<")
        end = lines.index(delimiter, i + 1)
        values[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return values


def release(checkout: Checkout, images, *extra: str) -> int:
    digests = [f"--{image}={value}" for image, value in images.items()]
    return main(
        [
            "--root",
            str(checkout.root),
            "propose",
            "--stack",
            "dev",
            "--source-commit",
            images.source_commit,
            *digests,
            *extra,
        ]
    )


def promote(checkout: Checkout, stack: str, *extra: str) -> int:
    return main(["--root", str(checkout.root), "propose", "--stack", stack, *extra])


def images_of(checkout: Checkout, stack: str):
    return StackFile.read(checkout.file(stack)).images


def test_the_line_is_dev_staging_prod_with_ultra_after_staging():
    assert source_of("dev") is None
    assert SOURCES == {"staging": "dev", "prod": "staging", "ultra": "staging"}


def test_a_release_writes_the_build_into_dev_only(checkout):
    before = {stack: checkout.text(stack) for stack in STACKS}

    assert release(checkout, A) == 0

    assert images_of(checkout, "dev") == A
    assert {stack: checkout.text(stack) for stack in STACKS if stack != "dev"} == {
        stack: text for stack, text in before.items() if stack != "dev"
    }
    written = outputs(checkout)
    assert written["changed"] == "true"
    assert written["title"] == f"Release {A.source_commit[:12]} to dev"
    assert written["branch"] == "release/dev"
    assert written["stack-file"] == "Pulumi.dev.yaml"
    body = (checkout.root / "build" / "release-dev.md").read_text()
    assert written["body-path"].endswith("build/release-dev.md")
    assert f"`{A.digests['api'][:19]}…`" in body
    assert "checks that the build pushed every digest" in body


def test_each_promotion_copies_its_source_block_and_nothing_else(checkout):
    release(checkout, A)
    checkout.commit("release a")
    for stack, source in (("staging", "dev"), ("prod", "staging"), ("ultra", "staging")):
        untouched = {other: checkout.text(other) for other in STACKS if other != stack}

        assert promote(checkout, stack) == 0

        assert images_of(checkout, stack) == images_of(checkout, source) == A
        assert {other: checkout.text(other) for other in STACKS if other != stack} == untouched
        assert outputs(checkout)["title"] == f"Promote {A.source_commit[:12]} from {source} to {stack}"
        checkout.commit(f"promote a to {stack}")


def test_prod_cannot_skip_staging(checkout):
    release(checkout, A)
    checkout.commit("release a")

    assert promote(checkout, "prod") == 1
    assert images_of(checkout, "prod").empty


def test_rolling_back_promotes_the_block_the_source_ran_for_an_earlier_commit(checkout):
    release(checkout, A)
    checkout.commit("release a")
    promote(checkout, "staging")
    checkout.commit("promote a")
    release(checkout, B)
    checkout.commit("release b")
    promote(checkout, "staging")
    checkout.commit("promote b")
    assert images_of(checkout, "staging") == B

    assert promote(checkout, "staging", "--source-commit", A.source_commit[:10]) == 0

    assert images_of(checkout, "staging") == A
    assert "as of" in (checkout.root / "build" / "release-staging.md").read_text()
    assert [images for _, images in history(checkout.root, "dev")] == [B, A]


def test_a_rollback_to_a_commit_the_source_never_ran_is_refused(checkout, capsys):
    release(checkout, A)
    checkout.commit("release a")
    promote(checkout, "staging")
    checkout.commit("promote a")

    assert promote(checkout, "prod", "--source-commit", B.source_commit) == 1
    assert "is not among the application commits staging has run" in capsys.readouterr().err
    assert images_of(checkout, "prod").empty


def test_promoting_what_the_stack_already_runs_changes_nothing(checkout):
    release(checkout, A)
    promote(checkout, "staging")
    text = checkout.text("staging")

    assert promote(checkout, "staging") == 0

    assert checkout.text("staging") == text
    assert outputs(checkout)["changed"] == "false"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["propose", "--stack", "staging"], "dev has no released images yet"),
        (["propose", "--stack", "perf"], "'perf' is not in the promotion line"),
        (["propose", "--stack", "dev", "--source-commit", "abc"], "not a full git commit SHA"),
        (["propose", "--stack", "prod", f"--api={A.digests['api']}"], "--api is only for a release"),
        (["propose", "--stack", "staging", "--source-commit", "abc"], "at least 7 characters"),
    ],
)
def test_bad_requests_fail_with_a_reason(checkout, capsys, argv, message):
    assert main(["--root", str(checkout.root), *argv]) == 1
    assert message in capsys.readouterr().err


def test_a_release_without_every_digest_is_refused(checkout, capsys):
    partial = [f"--api={A.digests['api']}", f"--worker={A.digests['worker']}"]

    assert (
        main(["--root", str(checkout.root), "propose", "--stack", "dev", "--source-commit", A.source_commit, *partial])
        == 1
    )
    assert "no digest for scheduler" in capsys.readouterr().err
