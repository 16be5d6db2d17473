"""ECR lifecycle: what the repositories keep, played the way ECR evaluates the rules."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from components.container_registry import KEEP_TAG_PREFIX, KEEP_WINDOW, lifecycle_policy
from release import registry
from tests.conftest import committed_run

POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"


@dataclass(frozen=True)
class Pushed:
    digest: str
    tags: tuple[str, ...]
    age_days: int
    """Days since it was pushed (lower is newer)."""


def surviving(policy: str, images: list[Pushed]) -> set[str]:
    """The digests left after ECR applies ``policy`` (ECR lifecycle policy rules, "evaluation rules"):
    rules by ascending priority; an image a rule selects is that rule's alone, whether kept or expired."""
    rules = sorted(json.loads(policy)["rules"], key=lambda rule: rule["rulePriority"])
    claimed: set[str] = set()
    expired: set[str] = set()
    for rule in rules:
        selection = rule["selection"]

        def selects(image: Pushed, selection=selection) -> bool:
            status = selection["tagStatus"]
            if status == "untagged":
                return not image.tags
            if status == "tagged":
                return any(tag.startswith(p) for p in selection["tagPrefixList"] for tag in image.tags)
            return True

        chosen = [image for image in images if image.digest not in claimed and selects(image)]
        claimed |= {image.digest for image in chosen}
        if selection["countType"] == "imageCountMoreThan":
            expired |= {image.digest for image in sorted(chosen, key=lambda i: i.age_days)[selection["countNumber"] :]}
        else:
            expired |= {image.digest for image in chosen if image.age_days > selection["countNumber"]}
    return {image.digest for image in images} - expired


def builds(count: int) -> list[Pushed]:
    """``count`` commits pushed one a day, the newest first."""
    return [Pushed(f"sha256:{n:064x}", (f"{n:040x}",), n) for n in range(count)]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "ultra"])
def test_every_repository_keeps_the_digests_deployed_to_its_stack(stack):
    policies = committed_run(stack).of_type(POLICY)
    assert len(policies) == 3
    for policy in policies:
        rules = json.loads(policy.inputs["policy"])["rules"]
        assert rules[0] == {
            "rulePriority": 1,
            "description": f"Keep the newest {KEEP_WINDOW} images a stack was deployed with",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["keep-"],
                "countType": "imageCountMoreThan",
                "countNumber": 1000,
            },
            "action": {"type": "expire"},
        }
        # ECR evaluates a tagStatus "any" rule last, and requires it to have the highest priority.
        assert rules[-1]["selection"]["tagStatus"] == "any"
        assert [rule["rulePriority"] for rule in rules] == [1, 2, 3]


def test_a_rollback_target_outlives_the_newer_builds():
    """prod rolled back to a 60-day-old build while dev pushed 59 newer ones: the count rule alone expires it."""
    history = builds(60)
    pinned = history[-1]
    kept = Pushed(pinned.digest, (*pinned.tags, registry.keep_tag("prod", pinned.digest)), pinned.age_days)
    images = [*history[:-1], kept, Pushed("sha256:" + "f" * 64, (), 3)]

    left = surviving(lifecycle_policy(20), images)

    assert pinned.digest in left
    assert {image.digest for image in history[:20]} <= left
    assert not {image.digest for image in history[20:-1]} & left
    assert "sha256:" + "f" * 64 not in left
    assert pinned.digest not in surviving(lifecycle_policy(20), history)


def test_only_the_newest_deployed_digests_are_kept_beyond_the_window():
    deployed = [Pushed(i.digest, (registry.keep_tag("dev", i.digest),), i.age_days) for i in builds(KEEP_WINDOW + 5)]
    left = surviving(lifecycle_policy(20), deployed)
    assert left == {image.digest for image in deployed[:KEEP_WINDOW]}


def test_the_release_tags_what_the_lifecycle_keeps():
    assert registry.KEEP_TAG_PREFIX == KEEP_TAG_PREFIX
    tag = registry.keep_tag("staging", "sha256:" + "a" * 64)
    assert tag == "keep-staging-" + "a" * 64 and tag.startswith(KEEP_TAG_PREFIX)
