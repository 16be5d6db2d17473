"""The offline preview's report: what a stack would create, grouped by component.

The report is plain data (serialisable to JSON) built from a :class:`StackRun`.
Further sections (cost, findings, diagram) attach to ``Report.sections`` under
their own names, so every renderer shows them without knowing their shape.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from .harness import PROJECT, RecordedResource, StackRun

# Inputs worth showing per resource type; other types show their short scalar inputs.
KEY_SETTINGS: dict[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone"),
    "aws:ec2/route:Route": ("destinationCidrBlock", "gatewayId", "natGatewayId", "networkInterfaceId"),
    "aws:ec2/instance:Instance": ("instanceType", "sourceDestCheck", "associatePublicIpAddress"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcEndpointType"),
    "aws:ec2/flowLog:FlowLog": ("trafficType", "logDestinationType"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "description"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "description", "ipProtocol", "fromPort", "toPort", "cidrIpv4", "cidrIpv6", "referencedSecurityGroupId",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "description", "ipProtocol", "fromPort", "toPort", "cidrIpv4", "referencedSecurityGroupId",
    ),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:rds/subnetGroup:SubnetGroup": ("name",),
    "aws:rds/instance:Instance": (
        "identifier", "instanceClass", "engineVersion", "allocatedStorage", "maxAllocatedStorage", "multiAz",
        "backupRetentionPeriod", "deletionProtection", "finalSnapshotIdentifier", "replicateSourceDb",
    ),
    "aws:rds/parameterGroup:ParameterGroup": ("family", "parameters"),
    "aws:secretsmanager/secret:Secret": ("description",),
}
_NOISE = {"tags", "tagsAll", "policy", "assumeRolePolicy", "userData", "containerDefinitions", "dashboardBody"}
_MAX_VALUE = 72


@dataclass
class ResourceLine:
    type: str
    name: str
    settings: dict[str, Any]
    protect: bool = False


@dataclass
class ComponentGroup:
    type: str
    name: str
    resources: list[ResourceLine] = field(default_factory=list)


@dataclass
class Report:
    stack: str
    region: str
    environment: str
    topology: str
    components: list[ComponentGroup]
    counts: dict[str, int]
    outputs: dict[str, Any]
    sections: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False, default=str)


def _short(value: Any) -> Any:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return value if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def key_settings(resource: RecordedResource) -> dict[str, Any]:
    """The inputs a reviewer wants to see for this resource."""
    wanted = KEY_SETTINGS.get(resource.type)
    if wanted is None:
        wanted = tuple(
            k for k, v in resource.inputs.items() if k not in _NOISE and isinstance(v, (str, int, float, bool))
        )[:6]
    return {k: _short(resource.inputs[k]) for k in wanted if resource.inputs.get(k) not in (None, "", [])}


def build_report(run: StackRun, config: dict[str, str]) -> Report:
    groups: dict[str, ComponentGroup] = {}
    for resource in run.resources:
        if resource.type.startswith(f"{PROJECT}:"):
            groups.setdefault(resource.urn, ComponentGroup(resource.type.split(":")[-1], resource.name))
    stack_level = ComponentGroup("Stack", run.stack)
    for resource in run.resources:
        if not resource.custom:
            continue
        owner = run.component_of(resource)
        group = groups[owner.urn] if owner else stack_level
        group.resources.append(ResourceLine(resource.type, resource.name, key_settings(resource), resource.protect))
    ordered = ([stack_level] if stack_level.resources else []) + [g for g in groups.values() if g.resources]
    # Registration order depends on when outputs resolve; sorting keeps previews diffable.
    for group in ordered:
        group.resources.sort(key=lambda line: (line.type, line.name))
    counts = Counter(r.type for r in run.resources if r.custom)
    return Report(
        stack=run.stack,
        region=config.get("aws:region", ""),
        environment=config.get(f"{PROJECT}:environment", ""),
        topology=config.get(f"{PROJECT}:topology", ""),
        components=ordered,
        counts=dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
        outputs=run.outputs,
    )
