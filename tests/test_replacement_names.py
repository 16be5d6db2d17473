"""A resource with a fixed physical name must not collide with its own replacement.

Pulumi replaces create-first: when a replace-only field changes, the new resource is created
while the old one still holds the name, and AWS refuses the duplicate. Each explicitly named
type is in ``NAMED`` with its replace-only fields (the provider's ForceNew arguments, from the
Terraform AWS provider schema pulumi-aws is built on) and how the program avoids the collision.
A type missing from the table fails the walk, so the table keeps up with the program.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from stackconfig.naming import fingerprint
from tests.conftest import committed_run, released_run

NAME_ONLY = "the name is its only replace-only field (a new name is a new resource)"
SCOPED = "unique only within fields that are themselves replace-only: a replacement lands in a new scope"
NOT_UNIQUE = "AWS does not require the name to be unique"
DELETE_FIRST = "delete_before_replace"
FINGERPRINT = "the name ends with a fingerprint of the replace-only fields"
FIXED = "each replace-only field holds the one value the program ever writes (a change must pick a strategy)"
KEPT = "holds data a replacement would destroy: a collision that stops the update is the safe outcome"
ABSENT = object()


@dataclass(frozen=True)
class Named:
    name: str
    """The input that is the physical name."""
    replace_only: tuple[str, ...] = ()
    strategy: str = NAME_ONLY
    fixed: dict[str, tuple] = field(default_factory=dict)
    """For ``FIXED``: field -> the values allowed (``ABSENT`` for not set)."""


NAMED: dict[str, Named] = {
    "aws:apigatewayv2/api:Api": Named("name", ("protocolType",), NOT_UNIQUE),
    "aws:apigatewayv2/stage:Stage": Named("name", ("apiId",), SCOPED),
    "aws:appautoscaling/policy:Policy": Named("name", ("resourceId", "scalableDimension", "serviceNamespace"), SCOPED),
    "aws:backup/plan:Plan": Named("name"),
    "aws:backup/selection:Selection": Named(
        "name", ("planId", "iamRoleArn", "selectionTags", "resources"), DELETE_FIRST
    ),
    "aws:backup/vault:Vault": Named("name", ("kmsKeyArn",), KEPT),
    "aws:budgets/budget:Budget": Named("name", ("accountId",), SCOPED),
    "aws:cloudwatch/dashboard:Dashboard": Named("dashboardName"),
    "aws:cloudwatch/eventRule:EventRule": Named("name", ("eventBusName",), SCOPED),
    "aws:cloudwatch/logGroup:LogGroup": Named("name"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": Named("name"),
    "aws:ec2/securityGroup:SecurityGroup": Named("name", ("description", "vpcId"), FIXED, {"name": (ABSENT,)}),
    "aws:ecr/repository:Repository": Named("name", ("encryptionConfigurations",), KEPT),
    "aws:ecs/cluster:Cluster": Named("name"),
    "aws:ecs/service:Service": Named(
        "name",
        ("cluster", "launchType", "schedulingStrategy", "deploymentController", "iamRole"),
        FIXED,
        {f: (ABSENT,) for f in ("launchType", "schedulingStrategy", "deploymentController", "iamRole")},
    ),
    # Every change registers a new revision of the family; nothing is replaced.
    "aws:ecs/taskDefinition:TaskDefinition": Named("family"),
    "aws:eks/cluster:Cluster": Named("name", ("vpcConfig", "encryptionConfig", "kubernetesNetworkConfig"), KEPT),
    "aws:eks/nodeGroup:NodeGroup": Named(
        "nodeGroupName", ("amiType", "capacityType", "instanceTypes", "nodeRoleArn", "subnetIds"), FINGERPRINT
    ),
    "aws:elasticache/serverlessCache:ServerlessCache": Named(
        "name", ("engine", "kmsKeyId", "subnetIds", "snapshotArnsToRestore"), DELETE_FIRST
    ),
    # The user id is the user name, so a new name is a new id.
    "aws:elasticache/user:User": Named("userId", ("userName", "engine"), FIXED, {"engine": ("valkey",)}),
    "aws:elasticache/userGroup:UserGroup": Named("userGroupId", ("engine",), FIXED, {"engine": ("valkey",)}),
    "aws:kms/alias:Alias": Named("name"),
    "aws:lambda/function:Function": Named("name", ("packageType",), FIXED, {"packageType": (ABSENT, "Zip", "Image")}),
    "aws:lb/loadBalancer:LoadBalancer": Named(
        "name",
        ("internal", "loadBalancerType"),
        FIXED,
        {"internal": (False,), "loadBalancerType": ("application",)},
    ),
    "aws:lb/targetGroup:TargetGroup": Named("name", ("targetType", "port", "protocol", "vpcId"), FINGERPRINT),
    "aws:pipes/pipe:Pipe": Named("name", ("source",), DELETE_FIRST),
    "aws:rds/instance:Instance": Named("identifier", ("kmsKeyId", "storageEncrypted", "dbName", "username"), KEPT),
    "aws:rds/subnetGroup:SubnetGroup": Named("name"),
    "aws:route53/record:Record": Named("name", ("zoneId", "type"), SCOPED),
    "aws:route53/zone:Zone": Named("name", (), NOT_UNIQUE),
    "aws:s3/bucket:Bucket": Named("bucket", ("objectLockEnabled",), FIXED, {"objectLockEnabled": (ABSENT, False)}),
    "aws:scheduler/schedule:Schedule": Named("name", ("groupName",), SCOPED),
    "aws:sfn/stateMachine:StateMachine": Named("name", ("type",), FIXED, {"type": ("STANDARD",)}),
    "aws:sns/topic:Topic": Named("name", ("fifoTopic",), FIXED, {"fifoTopic": (ABSENT, False)}),
    "aws:sqs/queue:Queue": Named("name", ("fifoQueue",), FIXED, {"fifoQueue": (ABSENT, False)}),
    "aws:wafv2/webAcl:WebAcl": Named("name", ("scope",), FIXED, {"scope": ("REGIONAL",)}),
    # A Helm release name is unique within its namespace, which only a replacement changes.
    "kubernetes:helm.sh/v3:Release": Named("name", ("namespace",), SCOPED),
}

# Inputs that name a resource of this stack in every type that has them, and the types where
# they refer to another resource instead (an S3 bucket's settings, a function's permission).
NAME_INPUTS = ("name", "bucket", "identifier", "family", "dashboardName", "userId", "userGroupId", "nodeGroupName")
REFERENCES = {
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLogging:BucketLogging",
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration",
    "aws:s3/bucketNotification:BucketNotification",
    # The parameter group's family is its engine family, not a name (it is auto-named).
    "aws:rds/parameterGroup:ParameterGroup",
}


def _runs():
    for stack in ("dev", "staging", "prod", "ultra"):
        yield pytest.param(stack, False, id=stack)
        yield pytest.param(stack, True, id=f"{stack}-released")


def problems_of(run) -> list[str]:
    problems = []
    for resource in run.resources:
        if not resource.custom or resource.type.startswith("pulumi:") or resource.type in REFERENCES:
            continue
        given = [key for key in NAME_INPUTS if key in resource.inputs]
        entry = NAMED.get(resource.type)
        if entry is None:
            if given:
                problems.append(f"{resource.type} ({resource.name}) is named by {given} but not in NAMED")
            continue
        if entry.name not in resource.inputs and entry.strategy != FIXED:
            continue
        inputs = resource.inputs
        if entry.strategy == DELETE_FIRST and not resource.delete_before_replace:
            problems.append(f"{resource.name}: {resource.type} needs delete_before_replace")
        if entry.strategy == FINGERPRINT:
            expected = fingerprint(*(inputs.get(key) for key in entry.replace_only))
            if not str(inputs[entry.name]).endswith(f"-{expected}"):
                problems.append(f"{resource.name}: {inputs[entry.name]} does not end with -{expected}")
        for key, allowed in entry.fixed.items():
            value = inputs.get(key, ABSENT)
            if not any(value is a if a is ABSENT else value == a for a in allowed):
                problems.append(f"{resource.name}: {key} is {value!r}; the table allows {allowed}")
    return problems


@pytest.mark.parametrize(("stack", "released"), list(_runs()))
def test_no_named_resource_collides_with_its_replacement(stack, released):
    run = released_run(stack) if released else committed_run(stack)
    assert problems_of(run) == []


def test_the_walk_sees_every_strategy_at_work():
    """The table is exercised: each strategy applies to at least one resource of some stack."""
    seen = set()
    for stack in ("dev", "staging", "prod", "ultra"):
        for resource in released_run(stack).resources:
            entry = NAMED.get(resource.type)
            if entry:
                seen.add(entry.strategy)
    assert seen == {NAME_ONLY, SCOPED, NOT_UNIQUE, DELETE_FIRST, FINGERPRINT, FIXED, KEPT}


def test_security_groups_take_a_prefix_not_a_name():
    groups = committed_run("dev").of_type("aws:ec2/securityGroup:SecurityGroup")
    assert groups and all("name" not in g.inputs and g.inputs["namePrefix"].endswith("-") for g in groups)


def test_the_target_group_name_changes_with_its_port():
    (group,) = committed_run("dev").of_type("aws:lb/targetGroup:TargetGroup")
    inputs = group.inputs
    assert inputs["name"] == f"flowbuilder-dev-api-{fingerprint('ip', inputs['port'], 'HTTP', inputs['vpcId'])}"
    assert fingerprint("ip", 8080, "HTTP", inputs["vpcId"]) != fingerprint("ip", 8081, "HTTP", inputs["vpcId"])
