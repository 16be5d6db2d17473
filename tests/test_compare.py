"""Comparing two stacks: added, removed and changed resources, and the cost difference."""

from __future__ import annotations

import pulumi_aws as aws

from preview.checks.preflight import preflight
from preview.cost import estimate
from preview.report.compare import compare

from .conftest import committed_run
from .preview_support import program


def _stack(stack: str, *, instance_class: str, retention: int, nat: bool):
    def build():
        vpc = aws.ec2.Vpc(f"flowbuilder-{stack}-vpc", cidr_block="10.0.0.0/16")
        subnet = aws.ec2.Subnet(f"flowbuilder-{stack}-public-a", vpc_id=vpc.id, cidr_block="10.0.0.0/24")
        aws.rds.Instance(
            f"flowbuilder-{stack}-postgres",
            identifier=f"flowbuilder-{stack}-postgres",
            engine="postgres",
            instance_class=instance_class,
            allocated_storage=20,
            storage_type="gp3",
            username="app",
        )
        aws.cloudwatch.LogGroup(
            f"flowbuilder-{stack}-api-logs", name=f"/flowbuilder/{stack}/api", retention_in_days=retention
        )
        if nat:
            address = aws.ec2.Eip(f"flowbuilder-{stack}-nat-eip", domain="vpc")
            aws.ec2.NatGateway(f"flowbuilder-{stack}-nat", allocation_id=address.allocation_id, subnet_id=subnet.id)

    return program(build, stack=stack)


def _compare(before, after):
    return compare(before, after, estimate(before), estimate(after), preflight(before), preflight(after))


def test_promotion_lists_added_resources_changed_settings_and_cost():
    dev = _stack("dev", instance_class="db.t4g.micro", retention=7, nat=False)
    prod = _stack("prod", instance_class="db.t4g.medium", retention=30, nat=True)
    result = _compare(dev, prod)
    assert result.added == [("aws:ec2/eip:Eip", "<stack>-nat-eip"), ("aws:ec2/natGateway:NatGateway", "<stack>-nat")]
    assert result.removed == []
    changes = {(c.type, c.name): [(s.path, s.before, s.after) for s in c.settings] for c in result.changed}
    assert changes == {
        ("aws:rds/instance:Instance", "<stack>-postgres"): [("instanceClass", "db.t4g.micro", "db.t4g.medium")],
        ("aws:cloudwatch/logGroup:LogGroup", "<stack>-api-logs"): [("retentionInDays", 7, 30)],
    }
    # The subnet points at a different VPC id in each stack; that is the same VPC, not a change.
    assert result.unchanged == 2
    assert result.cost_delta_usd == round(estimate(prod).total_usd - estimate(dev).total_usd, 2)
    assert result.cost_delta_usd == round((0.065 - 0.016) * 730 + (0.045 + 0.005) * 730, 2)
    assert [(c.resource, c.before_usd, c.after_usd) for c in result.cost_changes] == [
        ("<stack>-postgres", 13.98, 49.75),
        ("<stack>-nat", 0.0, 32.85),
        ("<stack>-nat-eip", 0.0, 3.65),
    ]
    assert result.before_preflight_ok and result.after_preflight_ok


def test_a_stack_compared_with_itself_has_no_differences():
    dev = _stack("dev", instance_class="db.t4g.micro", retention=7, nat=True)
    result = _compare(dev, dev)
    assert (result.added, result.removed, result.changed, result.cost_changes, result.cost_delta_usd) == (
        [],
        [],
        [],
        [],
        0,
    )


def test_dev_to_prod():
    dev, prod = committed_run("dev"), committed_run("prod")
    result = _compare(dev, prod)
    changed = {(c.type, c.name): {s.path: (s.before, s.after) for s in c.settings} for c in result.changed}
    database = changed[("aws:rds/instance:Instance", "<stack>-postgres")]
    assert database["instanceClass"] == ("db.t4g.micro", "db.t4g.medium")
    assert database["multiAz"] == (False, True)
    assert ("aws:ec2/natGateway:NatGateway", "<stack>-nat-a") in result.added
    assert ("aws:ec2/instance:Instance", "<stack>-nat") in result.removed
    assert result.cost_delta_usd == round(estimate(prod).total_usd - estimate(dev).total_usd, 2) > 0
    # Names, ids and ARNs that only differ by the stack are normalised away.
    assert not any("flowbuilder-dev" in str(s.before) for c in result.changed for s in c.settings)
