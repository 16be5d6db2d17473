"""The budget sees every dollar: each resource of each stack carries the stack's default tags.

The provider's default tags reach every taggable resource declared through it; they do not
reach what EC2 creates on a resource's behalf (an instance's volumes and network interface) or
launch-template tag specifications. Those are checked here one by one.
"""

from __future__ import annotations

import json

import pytest

from simulation.harness import StackRun
from tests.conftest import committed_run

STACKS = ["dev", "staging", "prod", "ultra"]
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCHED_KINDS = {"instance", "volume", "network-interface"}


def default_tags(run: StackRun) -> dict[str, str]:
    """The default tags of the stack's providers (its region's, and prod's backup-copy region's),
    checked to be the stack's own and the same on each."""
    # Provider inputs travel as JSON text.
    every = [json.loads(p.inputs["defaultTags"])["tags"] for p in run.of_type("pulumi:providers:aws")]
    tags = every[0]
    assert all(other == tags for other in every)
    assert set(tags) == {"project", "stack", "environment", "managed-by", "cost-center"}
    assert (tags["project"], tags["stack"], tags["managed-by"]) == ("flowbuilder", run.stack, "pulumi")
    return tags


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_is_declared_through_the_tagging_provider(stack):
    run = committed_run(stack)
    default_tags(run)
    providers = [f"{p.urn}::{p.id}" for p in run.of_type("pulumi:providers:aws")]
    aws_resources = [r for r in run.resources if r.custom and r.type.startswith("aws:")]
    assert aws_resources
    strays = [r.name for r in aws_resources if r.provider not in providers]
    assert strays == []


@pytest.mark.parametrize("stack", STACKS)
def test_instances_tag_their_volumes_and_network_interface(stack):
    run = committed_run(stack)
    tags = default_tags(run)
    for instance in run.of_type("aws:ec2/instance:Instance"):
        assert tags.items() <= instance.inputs["volumeTags"].items()
        eni = instance.state["primaryNetworkInterfaceId"]
        on_eni = {
            t.inputs["key"]: t.inputs["value"] for t in run.of_type("aws:ec2/tag:Tag") if t.inputs["resourceId"] == eni
        }
        assert tags.items() <= on_eni.items(), instance.name


def test_the_stacks_have_what_these_checks_cover():
    """dev runs the NAT instance, staging and prod the EKS system nodes' launch template."""
    assert [i.name for i in committed_run("dev").of_type("aws:ec2/instance:Instance")] == ["flowbuilder-dev-nat"]
    for stack in ("staging", "prod"):
        names = [t.name for t in committed_run(stack).of_type(LAUNCH_TEMPLATE)]
        assert names == [f"flowbuilder-{stack}-eks-system"]


@pytest.mark.parametrize("stack", STACKS)
def test_launch_templates_tag_what_they_launch(stack):
    """Any launch template (EKS nodes included): instance, volume and network interface carry the default tags."""
    run = committed_run(stack)
    tags = default_tags(run)
    for template in run.of_type(LAUNCH_TEMPLATE):
        specs = {spec["resourceType"]: spec.get("tags", {}) for spec in template.inputs.get("tagSpecifications", [])}
        assert LAUNCHED_KINDS <= set(specs), template.name
        for kind in LAUNCHED_KINDS:
            assert tags.items() <= specs[kind].items(), (template.name, kind)
