"""Pulumi mocks that answer like AWS would.

Under ``set_mocks`` nothing reaches AWS: every resource gets back its inputs
plus the outputs AWS computes (ARNs, ids, URLs, endpoints), shaped as the
provider returns them, so ``apply`` callbacks in the program see realistic
values. Invokes (lookups) return data shaped like a real account's.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

import pulumi

ACCOUNT_ID = "123456789012"
DEFAULT_VPC_ID = "vpc-0d3fa017c0ffee000"
DEFAULT_VPC_CIDR = "172.31.0.0/16"


def fake_hex(seed: str, length: int = 17) -> str:
    """Deterministic hex digits, so previews of the same stack are identical."""
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def autoname(logical_name: str) -> str:
    """What Pulumi's auto-naming would call a resource: name plus 7 random hex."""
    return f"{logical_name}-{fake_hex(logical_name, 7)}"


# Token prefix -> (AWS id prefix, ARN service, ARN resource kind).
_ID_SHAPES: dict[str, tuple[str, str, str]] = {
    "aws:ec2/vpc:Vpc": ("vpc-", "ec2", "vpc"),
    "aws:ec2/subnet:Subnet": ("subnet-", "ec2", "subnet"),
    "aws:ec2/securityGroup:SecurityGroup": ("sg-", "ec2", "security-group"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("sg-", "ec2", "security-group"),
    "aws:ec2/internetGateway:InternetGateway": ("igw-", "ec2", "internet-gateway"),
    "aws:ec2/natGateway:NatGateway": ("nat-", "ec2", "natgateway"),
    "aws:ec2/eip:Eip": ("eipalloc-", "ec2", "elastic-ip"),
    "aws:ec2/routeTable:RouteTable": ("rtb-", "ec2", "route-table"),
    "aws:ec2/instance:Instance": ("i-", "ec2", "instance"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("vpce-", "ec2", "vpc-endpoint"),
    "aws:ec2/flowLog:FlowLog": ("fl-", "ec2", "vpc-flow-log"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("sgr-", "ec2", "security-group-rule"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("sgr-", "ec2", "security-group-rule"),
}


def _arn(service: str, kind: str, name: str, region: str) -> str:
    regionless = service in ("iam", "s3", "budgets")
    return f"arn:aws:{service}:{'' if regionless else region}:{'' if service == 's3' else ACCOUNT_ID}:{kind}/{name}"


def _service_of(token: str) -> str:
    # "aws:sqs/queue:Queue" -> "sqs"
    return token.split(":")[1].split("/")[0].lower() if token.startswith("aws:") else "mock"


class FlowbuilderMocks(pulumi.runtime.Mocks):
    """Mocks for every resource and lookup the program uses."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._outputs: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            "aws:sqs/queue:Queue": self._queue,
            "aws:ec2/instance:Instance": self._instance,
            "aws:ec2/eip:Eip": self._eip,
            "aws:ec2/vpc:Vpc": self._vpc,
            "aws:cloudwatch/logGroup:LogGroup": self._log_group,
            "aws:ecr/repository:Repository": self._repository,
        }

    # -- resources ---------------------------------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if not args.custom:
            return "", state
        prefix, service, kind = _ID_SHAPES.get(args.typ, ("", _service_of(args.typ), args.typ.split(":")[-1].lower()))
        name = state.get("name") or autoname(args.name)
        physical_id = f"{prefix}{fake_hex(args.typ + args.name)}" if prefix else name
        if "name" not in state and "namePrefix" not in state:
            state["name"] = name
        state.setdefault("arn", _arn(service, kind, physical_id, self.region))
        state.update(self._outputs.get(args.typ, lambda *_: {})(state, args.name))
        return physical_id, state

    def _queue(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        name = state["name"]
        return {
            "arn": f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{name}",
            "url": f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT_ID}/{name}",
        }

    def _instance(self, state: dict[str, Any], logical: str) -> dict[str, Any]:
        return {
            "primaryNetworkInterfaceId": f"eni-{fake_hex(logical)}",
            "privateIp": "10.0.0.10",
            "publicIp": "203.0.113.10" if state.get("associatePublicIpAddress") else "",
        }

    def _eip(self, _: dict[str, Any], logical: str) -> dict[str, Any]:
        return {"allocationId": f"eipalloc-{fake_hex(logical)}", "publicIp": "198.51.100.10"}

    def _vpc(self, state: dict[str, Any], logical: str) -> dict[str, Any]:
        return {"defaultSecurityGroupId": f"sg-{fake_hex('default' + logical)}", "mainRouteTableId": f"rtb-{fake_hex('main' + logical)}"}

    def _log_group(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {"arn": f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{state['name']}"}

    def _repository(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {
            "arn": f"arn:aws:ecr:{self.region}:{ACCOUNT_ID}:repository/{state['name']}",
            "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com/{state['name']}",
            "registryId": ACCOUNT_ID,
        }

    # -- invokes -----------------------------------------------------------
    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list]:
        answer = {
            "aws:index/getAvailabilityZones:getAvailabilityZones": lambda: {
                "names": [f"{self.region}{z}" for z in "abc"],
                "zoneIds": [f"use1-az{i}" for i in (1, 2, 4)],
            },
            "aws:index/getCallerIdentity:getCallerIdentity": lambda: {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/preview",
                "userId": "AIDAPREVIEW",
            },
            "aws:index/getRegion:getRegion": lambda: {"name": self.region, "region": self.region},
            "aws:index/getPartition:getPartition": lambda: {"partition": "aws", "dnsSuffix": "amazonaws.com"},
            "aws:ec2/getVpc:getVpc": lambda: {
                "id": args.args.get("id") or DEFAULT_VPC_ID,
                "cidrBlock": DEFAULT_VPC_CIDR,
                "default": not args.args.get("id"),
            },
            "aws:ec2/getSubnets:getSubnets": lambda: {
                "ids": [f"subnet-{fake_hex('default' + z)}" for z in "abc"],
            },
            "aws:ssm/getParameter:getParameter": lambda: {
                "name": args.args["name"],
                "value": f"ami-{fake_hex(args.args['name'])}",
                "type": "String",
            },
        }.get(args.token)
        if answer is None:
            raise NotImplementedError(f"the preview mocks do not answer {args.token}; add it to preview/mocks.py")
        return answer(), []
