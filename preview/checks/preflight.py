"""Preflight: the errors ``pulumi up`` would meet halfway through, found offline.

Each rule reads recorded resources (type token + inputs) and reports what AWS
or Kubernetes would reject, naming the resource and the rule. Rules:

* ``name-length``: physical names within the service's limit, after Pulumi's auto-name suffix;
* ``fargate-size``: task (and pipe override) cpu/memory pairs Fargate accepts;
* ``lambda-limits``: memory and timeout within Lambda's ranges;
* ``subnet-cidr``: subnets inside their VPC and not overlapping each other;
* ``iam-policy``: every policy document parses, with valid keys, effects, principals and action shapes;
* ``ecs-container-definitions``: container definitions match RegisterTaskDefinition's
  ``ContainerDefinition`` shape in the botocore service model;
* ``kubernetes-schema``: Kubernetes objects validate against the schema of the cluster's version;
* ``exclusive-fields``: fields an API accepts one of, never both (launchType vs capacity-provider strategy).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from simulation.harness import RecordedResource, StackRun
from simulation.mocks import autoname
from simulation.refs import number
from stackconfig.aws_limits import (
    LAMBDA_MEMORY_MB,
    LAMBDA_TIMEOUT_SECONDS,
    NAME_LIMITS,
    fargate_pair_error,
)

from ..cost.rules import cpu_units, memory_mib
from ..launches import task_launches
from .documents import IDENTITY, RESOURCE, TRUST, container_definition_problems, policy_problems
from .kubernetes import kubernetes_findings


@dataclass
class Finding:
    """One thing AWS (or Kubernetes) would reject."""

    rule: str
    resource: str
    type: str
    message: str


@dataclass
class PreflightResult:
    checked: dict[str, int]
    """Rule -> how many resources (or documents) it checked."""
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


RULE_TEXT: dict[str, str] = {
    "name-length": "physical names within the AWS limit, after the auto-name suffix",
    "fargate-size": "task cpu/memory is a pair Fargate accepts",
    "lambda-limits": (
        f"Lambda memory {LAMBDA_MEMORY_MB[0]}-{LAMBDA_MEMORY_MB[1]} MB, "
        f"timeout {LAMBDA_TIMEOUT_SECONDS[0]}-{LAMBDA_TIMEOUT_SECONDS[1]} s"
    ),
    "subnet-cidr": "subnets inside their VPC's CIDR and not overlapping",
    "iam-policy": "policy documents parse, with valid keys, effects and action shapes",
    "ecs-container-definitions": "container definitions match ECS RegisterTaskDefinition (botocore model)",
    "kubernetes-schema": "Kubernetes objects validate against the cluster version's schema",
    "exclusive-fields": "launchType and capacity-provider strategy are never both set",
}

Check = Callable[[StackRun], Iterator[Finding | int]]
"""A rule yields a Finding per problem and an int per thing it checked."""


def _finding(rule: str, resource: RecordedResource, message: str) -> Finding:
    return Finding(rule, resource.name, resource.type, message)


# -- name-length ------------------------------------------------------------------
# Type token -> (NAME_LIMITS kind, input holding the name, input holding a name prefix).
NAMED_TYPES: dict[str, tuple[str, str, str | None]] = {
    "aws:lb/loadBalancer:LoadBalancer": ("alb", "name", "namePrefix"),
    "aws:lb/targetGroup:TargetGroup": ("target-group", "name", "namePrefix"),
    "aws:iam/role:Role": ("iam-role", "name", "namePrefix"),
    "aws:iam/policy:Policy": ("iam-policy", "name", "namePrefix"),
    "aws:lambda/function:Function": ("lambda", "name", None),
    "aws:sqs/queue:Queue": ("sqs", "name", "namePrefix"),
    "aws:sns/topic:Topic": ("sns", "name", "namePrefix"),
    "aws:ecs/cluster:Cluster": ("ecs-cluster", "name", None),
    "aws:ecs/service:Service": ("ecs-service", "name", None),
    "aws:ecs/taskDefinition:TaskDefinition": ("ecs-family", "family", None),
    "aws:ecr/repository:Repository": ("ecr-repository", "name", None),
    "aws:cloudwatch/logGroup:LogGroup": ("log-group", "name", "namePrefix"),
    "aws:rds/instance:Instance": ("rds-identifier", "identifier", "identifierPrefix"),
    "aws:rds/subnetGroup:SubnetGroup": ("db-subnet-group", "name", "namePrefix"),
    "aws:rds/parameterGroup:ParameterGroup": ("db-parameter-group", "name", "namePrefix"),
    "aws:ec2/securityGroup:SecurityGroup": ("security-group", "name", "namePrefix"),
    "aws:secretsmanager/secret:Secret": ("secret", "name", "namePrefix"),
    "aws:pipes/pipe:Pipe": ("pipe", "name", "namePrefix"),
    "aws:sfn/stateMachine:StateMachine": ("state-machine", "name", "namePrefix"),
    "aws:scheduler/schedule:Schedule": ("schedule", "name", "namePrefix"),
    "aws:cloudwatch/eventRule:EventRule": ("event-rule", "name", "namePrefix"),
    "aws:eks/cluster:Cluster": ("eks-cluster", "name", None),
    "aws:eks/nodeGroup:NodeGroup": ("eks-nodegroup", "nodeGroupName", "nodeGroupNamePrefix"),
    "aws:codebuild/project:Project": ("codebuild-project", "name", None),
    "aws:s3/bucket:Bucket": ("s3-bucket", "bucket", "bucketPrefix"),
    "aws:budgets/budget:Budget": ("budget", "name", "namePrefix"),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboard", "dashboardName", None),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("alarm", "name", None),
    "aws:apigatewayv2/api:Api": ("http-api", "name", None),
}
# Terraform's name_prefix appends a 26-character unique id.
PREFIX_SUFFIX_LENGTH = 26


def _name_length(run: StackRun) -> Iterator[Finding | int]:
    for resource in run.resources:
        named = NAMED_TYPES.get(resource.type)
        if not named or not resource.custom:
            continue
        kind, name_key, prefix_key = named
        limit = NAME_LIMITS[kind]
        explicit = resource.inputs.get(name_key)
        prefix = resource.inputs.get(prefix_key) if prefix_key else None
        if isinstance(explicit, str) and explicit:
            name, how = explicit, "explicit name"
        elif isinstance(prefix, str) and prefix:
            name, how = (
                prefix + "x" * PREFIX_SUFFIX_LENGTH,
                f"{prefix_key} + {PREFIX_SUFFIX_LENGTH}-character unique suffix",
            )
        else:
            name, how = autoname(resource.name), "auto-named: logical name + 8-character suffix"
        yield 1
        if len(name) > limit:
            yield _finding(
                "name-length", resource, f"{kind} name {name!r} is {len(name)} characters ({how}); the limit is {limit}"
            )


# -- fargate-size -------------------------------------------------------------------
def _fargate_size(run: StackRun) -> Iterator[Finding | int]:
    for definition in run.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        if "FARGATE" not in (definition.inputs.get("requiresCompatibilities") or []):
            continue
        yield 1
        yield from _pair(definition, definition.inputs.get("cpu"), definition.inputs.get("memory"), "task")
    for launch in task_launches(run):
        if launch.cpu is not None or launch.memory is not None:
            yield 1
            yield from _pair(launch.runner, launch.cpu, launch.memory, f"{launch.where}: task override")


def _pair(resource: RecordedResource, cpu: Any, memory: Any, what: str) -> Iterator[Finding]:
    if cpu is None or memory is None:
        yield _finding(
            "fargate-size", resource, f"{what}: Fargate needs both cpu and memory (got cpu={cpu!r}, memory={memory!r})"
        )
        return
    problem = fargate_pair_error(cpu_units(cpu), memory_mib(memory))
    if problem:
        yield _finding("fargate-size", resource, f"{what}: {problem}")


# -- lambda-limits ------------------------------------------------------------------------
def _lambda_limits(run: StackRun) -> Iterator[Finding | int]:
    for function in run.of_type("aws:lambda/function:Function"):
        yield 1
        # Lambda's own defaults when the input is unset: 128 MB, 3 s.
        for key, default, (low, high), unit in (
            ("memorySize", 128, LAMBDA_MEMORY_MB, "MB"),
            ("timeout", 3, LAMBDA_TIMEOUT_SECONDS, "s"),
        ):
            value = number(function.inputs.get(key), default)
            if not low <= value <= high:
                yield _finding("lambda-limits", function, f"{key} {value:g} {unit} is outside {low}-{high} {unit}")


# -- subnet-cidr ----------------------------------------------------------------------------
def _subnet_cidr(run: StackRun) -> Iterator[Finding | int]:
    vpc_blocks: dict[str, list[ipaddress.IPv4Network]] = {}
    for vpc in run.of_type("aws:ec2/vpc:Vpc"):
        block = _network(vpc.inputs.get("cidrBlock"))
        if block is None:
            yield _finding("subnet-cidr", vpc, f"cidrBlock {vpc.inputs.get('cidrBlock')!r} is not a CIDR block")
        else:
            vpc_blocks.setdefault(vpc.id, []).append(block)
    placed: dict[str, list[tuple[RecordedResource, ipaddress.IPv4Network]]] = {}
    for subnet in sorted(run.of_type("aws:ec2/subnet:Subnet"), key=lambda r: r.name):
        yield 1
        cidr, vpc_id = subnet.inputs.get("cidrBlock"), subnet.inputs.get("vpcId")
        network = _network(cidr)
        if network is None:
            yield _finding("subnet-cidr", subnet, f"cidrBlock {cidr!r} is not a CIDR block")
            continue
        blocks = vpc_blocks.get(vpc_id)
        if blocks is not None and not any(network.subnet_of(block) for block in blocks):
            yield _finding("subnet-cidr", subnet, f"{cidr} is outside its VPC's CIDR ({', '.join(map(str, blocks))})")
        for other, other_network in placed.get(vpc_id, []):
            if network.overlaps(other_network):
                yield _finding("subnet-cidr", subnet, f"{cidr} overlaps {other.name} ({other_network})")
        placed.setdefault(vpc_id, []).append((subnet, network))


def _network(value: Any) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except (TypeError, ValueError):
        return None


# -- iam-policy ----------------------------------------------------------------------------------
# Type token -> (input path, kind of policy). ``[]`` marks a list of objects.
POLICY_INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "aws:iam/role:Role": (("assumeRolePolicy", TRUST), ("inlinePolicies[].policy", IDENTITY)),
    "aws:iam/rolePolicy:RolePolicy": (("policy", IDENTITY),),
    "aws:iam/policy:Policy": (("policy", IDENTITY),),
    "aws:sqs/queuePolicy:QueuePolicy": (("policy", RESOURCE),),
    "aws:sqs/queue:Queue": (("policy", RESOURCE),),
    "aws:s3/bucketPolicy:BucketPolicy": (("policy", RESOURCE),),
    "aws:sns/topicPolicy:TopicPolicy": (("policy", RESOURCE),),
    "aws:sns/topic:Topic": (("policy", RESOURCE),),
    "aws:kms/key:Key": (("policy", RESOURCE),),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": (("policy", RESOURCE),),
}


def _documents(resource: RecordedResource) -> Iterator[tuple[str, str, Any]]:
    for path, kind in POLICY_INPUTS.get(resource.type, ()):
        if "[]." in path:
            head, tail = path.split("[].")
            for index, item in enumerate(resource.inputs.get(head) or []):
                if isinstance(item, dict) and item.get(tail) not in (None, ""):
                    yield f"{head}[{index}].{tail}", kind, item[tail]
        elif resource.inputs.get(path) not in (None, ""):
            yield path, kind, resource.inputs[path]


def _iam_policy(run: StackRun) -> Iterator[Finding | int]:
    for resource in run.resources:
        for path, kind, raw in _documents(resource):
            yield 1
            for problem in policy_problems(raw, kind):
                yield _finding("iam-policy", resource, f"{path}: {problem}")


# -- ecs-container-definitions ----------------------------------------------------------------------
def _container_definitions(run: StackRun) -> Iterator[Finding | int]:
    for definition in run.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        yield 1
        for problem in container_definition_problems(definition.inputs.get("containerDefinitions")):
            yield _finding("ecs-container-definitions", definition, problem)


# -- exclusive-fields ---------------------------------------------------------------------------------
def _exclusive_fields(run: StackRun) -> Iterator[Finding | int]:
    requests = [
        (service, "", service.inputs.get("launchType"), service.inputs.get("capacityProviderStrategies"))
        for service in run.of_type("aws:ecs/service:Service")
    ]
    requests += [
        (launch.runner, f"{launch.where}: ", launch.launch_type, launch.strategy) for launch in task_launches(run)
    ]
    for resource, where, launch_type, strategy in requests:
        yield 1
        if launch_type and strategy:
            yield _finding(
                "exclusive-fields",
                resource,
                f"{where}launchType {launch_type!r} and a capacity-provider strategy are both set; "
                "ECS accepts one or the other",
            )


CHECKS: dict[str, Check] = {
    "name-length": _name_length,
    "fargate-size": _fargate_size,
    "lambda-limits": _lambda_limits,
    "subnet-cidr": _subnet_cidr,
    "iam-policy": _iam_policy,
    "ecs-container-definitions": _container_definitions,
    "exclusive-fields": _exclusive_fields,
}


def preflight(run: StackRun, kubernetes_version: str | None = None) -> PreflightResult:
    """Run every rule over ``run``; Kubernetes objects are validated for ``kubernetes_version``."""
    checked: dict[str, int] = {}
    findings: list[Finding] = []
    for rule, check in CHECKS.items():
        checked[rule] = 0
        found = []
        for item in check(run):
            if isinstance(item, Finding):
                found.append(item)
            else:
                checked[rule] += item
        # Registration order follows output resolution; sorting keeps reports stable.
        findings += sorted(found, key=lambda f: (f.resource, f.message))
    kubernetes = kubernetes_findings(run, kubernetes_version)
    checked["kubernetes-schema"] = kubernetes.checked
    findings += sorted(
        (Finding("kubernetes-schema", r.name, r.type, message) for r, message in kubernetes.problems),
        key=lambda f: (f.resource, f.message),
    )
    return PreflightResult(checked=checked, findings=findings, notes=kubernetes.notes)
