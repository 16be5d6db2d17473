"""Every role the program creates carries the account's permissions boundary; the application roles are named."""

from __future__ import annotations

import pytest

from simulation.mocks import ACCOUNT_ID
from tests.conftest import released_run

ROLE = "aws:iam/role:Role"
BOUNDARY = f"arn:aws:iam::{ACCOUNT_ID}:policy/flowbuilder-permissions-boundary"


# dev: flow logs, two execution and two task roles, sampler, scheduler, schedule, and the migration's
# execution, task and runner roles; staging adds the cluster's six (control plane, system nodes, EBS CSI,
# External Secrets, Karpenter's nodes and controller); prod the database's enhanced monitoring and AWS
# Backup; ultra: execution, task, state machine, pipe, API, scheduler, schedule and the migration's three.
@pytest.mark.parametrize(("stack", "count"), [("dev", 11), ("staging", 17), ("prod", 19), ("ultra", 10)])
def test_every_role_carries_the_permissions_boundary(stack, count):
    roles = released_run(stack).of_type(ROLE)
    assert len(roles) == count
    assert {role.name: role.inputs.get("permissionsBoundary") for role in roles} == {
        role.name: BOUNDARY for role in roles
    }


@pytest.mark.parametrize(
    ("stack", "roles"),
    [
        ("dev", ["api-task", "worker-task", "scheduler"]),
        ("ultra", ["api", "worker-task", "scheduler"]),
    ],
)
def test_application_roles_are_the_api_worker_and_scheduler(stack, roles):
    run = released_run(stack)
    assert run.outputs["applicationRoleNames"] == [
        run.one(ROLE, f"flowbuilder-{stack}-{role}").state["name"] for role in roles
    ]
