"""The images block: its shape, and edits that leave every other byte of a stack file alone."""

from __future__ import annotations

import pytest
import yaml

from release.images import Images, ReleaseError
from release.stackfile import IMAGES_KEY, StackFile
from tests.release_support import ROOT, STACKS, build, commit_sha, digest

FIRST = build("first")
SECOND = build("second")


def edit(text: str, images: Images) -> str:
    return StackFile.parse(text, "Pulumi.test.yaml").with_images(images)


@pytest.mark.parametrize("stack", STACKS)
def test_adding_the_block_to_a_committed_stack_file_adds_only_the_block(stack):
    original = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    edited = edit(original, FIRST)

    added = [line for line in edited.splitlines() if line not in original.splitlines()]
    assert added == [
        "  # The images this stack runs, by digest; written by `python3 tasks.py release` (docs/delivery.md).",
        "  flowbuilder:images:",
        f'    sourceCommit: "{FIRST.source_commit}"',
        f'    api: "{FIRST.digests["api"]}"',
        f'    worker: "{FIRST.digests["worker"]}"',
        f'    scheduler: "{FIRST.digests["scheduler"]}"',
    ]
    assert [line for line in edited.splitlines() if line not in added] == original.splitlines()
    assert StackFile.parse(edited, "x").images == FIRST


@pytest.mark.parametrize("stack", STACKS)
def test_replacing_the_block_changes_only_its_values(stack):
    once = edit((ROOT / f"Pulumi.{stack}.yaml").read_text(), FIRST)
    twice = edit(once, SECOND)

    changed = [(a, b) for a, b in zip(once.splitlines(), twice.splitlines(), strict=True) if a != b]
    assert [b.strip() for _, b in changed] == [
        f'sourceCommit: "{SECOND.source_commit}"',
        *(f'{image}: "{value}"' for image, value in SECOND.items()),
    ]


def test_a_block_between_other_keys_keeps_the_keys_and_comments_around_it():
    text = f"""# header
config:
  aws:region: eu-west-1
  # kept: a comment above the block
  flowbuilder:images:
    sourceCommit: "{FIRST.source_commit}"
    api: "{FIRST.digests["api"]}"

  # kept: the next key's comment
  flowbuilder:network: {{natStrategy: instance}}
"""
    edited = edit(text, SECOND)

    assert (
        edited
        == f"""# header
config:
  aws:region: eu-west-1
  # kept: a comment above the block
  flowbuilder:images:
    sourceCommit: "{SECOND.source_commit}"
    api: "{SECOND.digests["api"]}"
    worker: "{SECOND.digests["worker"]}"
    scheduler: "{SECOND.digests["scheduler"]}"

  # kept: the next key's comment
  flowbuilder:network: {{natStrategy: instance}}
"""
    )


def test_a_flow_style_block_is_rewritten_in_block_style():
    text = f"""config:
  aws:region: us-east-1
  flowbuilder:images: {{sourceCommit: "{FIRST.source_commit}",
    api: "{FIRST.digests["api"]}"}}
  flowbuilder:topology: standard
"""
    edited = edit(text, SECOND)

    assert yaml.safe_load(edited)["config"]["flowbuilder:topology"] == "standard"
    assert StackFile.parse(edited, "x").images == SECOND
    assert "{" not in edited


def test_keys_after_config_stay_outside_it_and_the_block_goes_inside():
    text = """config:
  aws:region: us-east-1
  flowbuilder:topology: standard

# written by pulumi stack init
secretsprovider: awskms://alias/flowbuilder-secrets?region=us-east-1&context_stack=dev
encryptedkey: AQICAHh=
"""
    edited = edit(text, FIRST)
    document = yaml.safe_load(edited)

    assert document["secretsprovider"].endswith("context_stack=dev")
    assert document["encryptedkey"] == "AQICAHh="
    assert Images.parse(document["config"][IMAGES_KEY], "x") == FIRST
    assert edited.index("flowbuilder:images:") < edited.index("# written by pulumi stack init")


def test_crlf_line_endings_are_kept():
    text = "config:\r\n  aws:region: us-east-1\r\n"
    edited = edit(text, FIRST)

    assert edited.count("\r\n") == len(edited.splitlines())
    assert StackFile.parse(edited, "x").images == FIRST


def test_two_images_blocks_are_refused():
    text = f"""config:
  flowbuilder:images:
    sourceCommit: "{FIRST.source_commit}"
  flowbuilder:images:
    sourceCommit: "{SECOND.source_commit}"
"""
    with pytest.raises(ReleaseError, match="appears 2 times"):
        edit(text, FIRST)


def test_writing_an_empty_block_is_refused():
    with pytest.raises(ReleaseError, match="empty"):
        edit("config:\n  aws:region: us-east-1\n", Images())


def test_the_block_is_validated():
    def parse(value):
        return Images.parse(value, "Pulumi.dev.yaml: flowbuilder:images")

    assert parse(None) == Images()
    with pytest.raises(ReleaseError, match=r"flowbuilder:images\.api: 'sha256:ABC' is not an image digest"):
        parse({"sourceCommit": commit_sha("x"), "api": "sha256:ABC"})
    with pytest.raises(ReleaseError, match="unknown key"):
        parse({"sourceCommit": commit_sha("x"), "frontend": digest("x")})
    with pytest.raises(ReleaseError, match=r"sourceCommit: None is not a full git commit SHA"):
        parse({"api": digest("x")})
    with pytest.raises(ReleaseError, match="quote it"):
        parse({"sourceCommit": 1234567890123456789012345678901234567890, "api": digest("x")})
    with pytest.raises(ReleaseError, match="expected a mapping"):
        parse("sha256:abc")


def test_a_release_names_every_image():
    with pytest.raises(ReleaseError, match="no digest for scheduler"):
        Images.of(commit_sha("x"), {"api": digest("a"), "worker": digest("w")})


def test_changes_list_only_the_images_whose_digest_moves():
    partial = Images.of(FIRST.source_commit, {**FIRST.digests, "worker": SECOND.digests["worker"]})
    assert partial.changes(FIRST) == [("worker", FIRST.digests["worker"], SECOND.digests["worker"])]
    assert FIRST.changes(Images())[0] == ("api", None, FIRST.digests["api"])
