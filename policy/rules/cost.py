"""Cost: nothing that bills by the hour in the zero-scale stack; no silent extended-support or forever logs.

The EKS extended-support rule lives with the other EKS rules (``eks-standard-support``).
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from ._support import Subject, number, resource_rule

NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
INSTANCE = "aws:ec2/instance:Instance"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
RDS = ("aws:rds/instance:Instance",)
HOURLY_ENDPOINT_TYPES = ("Interface", "GatewayLoadBalancer")
EXTENDED_SUPPORT_OFF = "open-source-rds-extended-support-disabled"


def _no_nat_in_zero_scale(resource: Subject) -> Iterator[str]:
    if not resource.facts.zero_scale:
        return
    if resource.type == NAT_GATEWAY:
        yield "a NAT gateway in the zero-scale stack bills $0.045/h (about $33/month) while idle"
    elif resource.get("sourceDestCheck") is False:
        yield "an instance forwarding traffic (a NAT instance) in the zero-scale stack bills while idle"


def _no_interface_endpoints_in_zero_scale(endpoint: Subject) -> Iterator[str]:
    kind = endpoint.get("vpcEndpointType", default="Gateway")
    if endpoint.facts.zero_scale and kind in HOURLY_ENDPOINT_TYPES:
        yield f"a {kind} endpoint in the zero-scale stack bills $0.01 per AZ-hour while idle"


def _interface_endpoints_outside_prod(endpoint: Subject) -> Iterator[str]:
    kind = endpoint.get("vpcEndpointType", default="Gateway")
    if kind == "Interface" and endpoint.facts.environment in ("dev", "staging"):
        zones = len(endpoint.get("subnetIds", default=[])) or 1
        yield (
            f"an interface endpoint costs ${0.01 * zones * 730:.2f}/month over {zones} AZ(s) before "
            f"traffic; in {endpoint.facts.environment} a few of them cost more than the NAT they save"
        )


def _log_retention(group: Subject) -> Iterator[str]:
    if not number(group.get("retentionInDays")):
        yield "retentionInDays is unset, so the logs are kept (and billed) forever"


def _rds_extended_support(db: Subject) -> Iterator[str]:
    if db.get("replicateSourceDb"):
        return
    if db.get("engineLifecycleSupport") != EXTENDED_SUPPORT_OFF:
        yield (
            f"engineLifecycleSupport is {db.get('engineLifecycleSupport') or 'unset (extended support on)'}; "
            "RDS Extended Support bills per vCPU-hour once the major version leaves standard support"
        )


POLICIES = [
    resource_rule(
        "cost-no-nat-in-zero-scale",
        "The zero-scale stack has no NAT gateway or NAT instance.",
        (NAT_GATEWAY, INSTANCE),
        _no_nat_in_zero_scale,
        mandatory=True,
        remediation="Zero-scale tasks run in public subnets with a public IP; remove the NAT.",
        tags=["cost"],
    ),
    resource_rule(
        "cost-no-interface-endpoints-in-zero-scale",
        "The zero-scale stack has no interface (or Gateway Load Balancer) VPC endpoints.",
        (VPC_ENDPOINT,),
        _no_interface_endpoints_in_zero_scale,
        mandatory=True,
        remediation="Keep network.interfaceEndpoints false for zero-scale; gateway endpoints (S3) are free.",
        tags=["cost"],
    ),
    resource_rule(
        "cost-interface-endpoints-outside-prod",
        "Interface endpoints in dev or staging usually cost more than the NAT traffic they save.",
        (VPC_ENDPOINT,),
        _interface_endpoints_outside_prod,
        mandatory=False,
        remediation="Set network.interfaceEndpoints: false unless traffic volume justifies them.",
        tags=["cost"],
        severity=Severity.LOW,
    ),
    resource_rule(
        "cost-log-retention",
        "Log groups should have a retention period.",
        (LOG_GROUP,),
        _log_retention,
        mandatory=False,
        remediation="Set retention_in_days=config.log_retention_days.",
        tags=["cost", "logging"],
        severity=Severity.LOW,
    ),
    resource_rule(
        "cost-rds-extended-support-off",
        "RDS should opt out of Extended Support so an ageing major version is upgraded, not silently billed.",
        RDS,
        _rds_extended_support,
        mandatory=False,
        remediation="Set engine_lifecycle_support='open-source-rds-extended-support-disabled' and plan major upgrades.",
        tags=["cost", "rds"],
        severity=Severity.LOW,
    ),
]
