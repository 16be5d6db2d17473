"""Networking: subnets, routes, NAT per strategy, endpoints per stack, the security-group chain."""

from __future__ import annotations

import functools
import json

import pytest

from components.network import ExistingVpc, ExistingVpcArgs, Networking, NetworkingArgs
from simulation.harness import StackRun
from simulation.mocks import FlowbuilderMocks
from stackconfig.model import NetworkConfig
from tests.component_support import run_component, section
from tests.conftest import committed_run

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
NO_VPC_TYPES = {
    "aws:ec2/vpc:Vpc",
    SUBNET,
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/instance:Instance",
    "aws:ec2/routeTable:RouteTable",
    ENDPOINT,
}


def subnets_by_tier(run: StackRun) -> dict[str, list[tuple[str, str]]]:
    tiers: dict[str, list[tuple[str, str]]] = {}
    for subnet in run.of_type(SUBNET):
        tiers.setdefault(subnet.inputs["tags"]["tier"], []).append(
            (subnet.inputs["cidrBlock"], subnet.inputs["availabilityZoneId"])
        )
    return {tier: sorted(subnets) for tier, subnets in tiers.items()}


def group_id(run: StackRun, label: str) -> str:
    return run.one(GROUP, f"-{label}-sg").id


@functools.cache
def network_alone(**network: object) -> StackRun:
    """Networking on its own with dev's network settings and these on top."""

    def build(context) -> None:
        Networking(context.prefix, NetworkingArgs(context, section(NetworkConfig, "network", **network), api_port=8080))

    return run_component(build)


def egress_of(run: StackRun, label: str) -> set[tuple]:
    """(protocol, from port, to port, destination) of every egress rule of the group ``<prefix>-<label>``."""
    gid = group_id(run, label)
    return {
        (
            r.inputs["ipProtocol"],
            r.inputs.get("fromPort"),
            r.inputs.get("toPort"),
            r.inputs.get("cidrIpv4") or r.inputs.get("referencedSecurityGroupId"),
        )
        for r in run.of_type(EGRESS)
        if r.inputs["securityGroupId"] == gid
    }


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_standard_stacks_have_exactly_the_six_subnets_over_two_azs(stack):
    run = committed_run(stack)
    assert run.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"] == "10.0.0.0/16"
    assert subnets_by_tier(run) == {
        "public": [("10.0.0.0/24", "use1-az1"), ("10.0.1.0/24", "use1-az2")],
        "private": [("10.0.10.0/24", "use1-az1"), ("10.0.11.0/24", "use1-az2")],
        "database": [("10.0.20.0/24", "use1-az1"), ("10.0.21.0/24", "use1-az2")],
    }
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in run.of_type(SUBNET))


def test_three_azs_when_configured():
    run = network_alone(availabilityZones=3, natStrategy="single-gateway")
    assert [c for c, _ in subnets_by_tier(run)["private"]] == ["10.0.10.0/24", "10.0.11.0/24", "10.0.12.0/24"]
    assert len(run.of_type("aws:ec2/natGateway:NatGateway")) == 1


def zones_of(run: StackRun) -> dict[str, str]:
    """Subnet name (without prefix) -> the zone ID it was placed in."""
    return {
        s.name.removeprefix(f"flowbuilder-{run.stack}-"): s.inputs["availabilityZoneId"] for s in run.of_type(SUBNET)
    }


def test_a_zone_eks_does_not_offer_is_never_chosen(monkeypatch):
    """An account whose us-east-1a and us-east-1c are use1-az3 and use1-az1: the lowest usable IDs win."""
    monkeypatch.setattr(FlowbuilderMocks, "zone_numbers", (3, 2, 1, 4, 5, 6))
    run = run_component(
        lambda context: Networking(
            context.prefix, NetworkingArgs(context, section(NetworkConfig, "network", availabilityZones=3), 8080)
        )
    )
    assert zones_of(run) == {
        f"{tier}-{letter}": zone
        for tier in ("public", "private", "database")
        for letter, zone in (("b", "use1-az2"), ("c", "use1-az1"), ("d", "use1-az4"))
    }
    assert "availabilityZone" not in run.one(SUBNET, "public-b").inputs


def test_pinned_zones_are_used_in_their_order():
    run = run_component(
        lambda context: Networking(
            context.prefix,
            NetworkingArgs(
                context, section(NetworkConfig, "network", availabilityZoneIds=["use1-az5", "use1-az4"]), 8080
            ),
        )
    )
    # The mocks' account maps d -> az5 and c -> az4; the first CIDR of each tier goes to the first pin.
    assert subnets_by_tier(run)["private"] == [("10.0.10.0/24", "use1-az5"), ("10.0.11.0/24", "use1-az4")]
    assert zones_of(run)["private-d"] == "use1-az5"


def test_a_pinned_zone_the_account_is_not_offered_stops_the_run():
    with pytest.raises(Exception, match=r"use1-az9 not offered to this account in us-east-1; offered: use1-az1, "):
        run_component(
            lambda context: Networking(
                context.prefix,
                NetworkingArgs(
                    context, section(NetworkConfig, "network", availabilityZoneIds=["use1-az1", "use1-az9"]), 8080
                ),
            )
        )


def default_routes(run: StackRun) -> dict[str, dict]:
    """Route-table label -> the target of its 0.0.0.0/0 route."""
    tables = {
        t.id: t.name.removeprefix(f"flowbuilder-{run.stack}-").removesuffix("-rt")
        for t in run.of_type("aws:ec2/routeTable:RouteTable")
    }
    return {
        tables[r.inputs["routeTableId"]]: {
            k: v for k, v in r.inputs.items() if k.endswith("Id") and k != "routeTableId"
        }
        for r in run.of_type(ROUTE)
        if r.inputs["destinationCidrBlock"] == "0.0.0.0/0"
    }


def test_database_tier_has_no_route_out_and_public_goes_through_the_igw(dev):
    routes = default_routes(dev)
    assert "database" not in routes
    assert routes["public"] == {"gatewayId": dev.one("aws:ec2/internetGateway:InternetGateway").id}


def test_dev_nat_instance_is_a_graviton_router_for_both_private_tables(dev):
    nat = dev.one("aws:ec2/instance:Instance")
    assert nat.inputs["instanceType"] == "t4g.nano"
    assert nat.inputs["sourceDestCheck"] is False
    assert nat.inputs["associatePublicIpAddress"] is True
    assert nat.inputs["metadataOptions"]["httpTokens"] == "required"
    assert "MASQUERADE" in nat.inputs["userData"]
    assert nat.ignore_changes == ["ami"]
    eni = nat.state["primaryNetworkInterfaceId"]
    routes = default_routes(dev)
    assert routes["private-a"] == routes["private-b"] == {"networkInterfaceId": eni}
    assert dev.of_type("aws:ec2/natGateway:NatGateway") == []
    # The NAT instance forwards HTTPS from the VPC, the only traffic its clients send out.
    nat_rules = [r for r in dev.of_type(INGRESS) if r.inputs["securityGroupId"] == group_id(dev, "nat")]
    assert [
        (r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"], r.inputs["cidrIpv4"]) for r in nat_rules
    ] == [("tcp", 443, 443, "10.0.0.0/16")]
    assert egress_of(dev, "nat") == {("tcp", 443, 443, "0.0.0.0/0")}


def test_staging_single_gateway_serves_both_azs(staging):
    (gateway,) = staging.of_type("aws:ec2/natGateway:NatGateway")
    assert gateway.inputs["subnetId"] == staging.one(SUBNET, "public-a").id
    routes = default_routes(staging)
    assert routes["private-a"] == routes["private-b"] == {"natGatewayId": gateway.id}


def test_prod_has_a_gateway_per_az_each_routing_its_own_az(prod):
    gateways = {g.name[-1]: g for g in prod.of_type("aws:ec2/natGateway:NatGateway")}
    assert sorted(gateways) == ["a", "b"]
    for zone, gateway in gateways.items():
        assert gateway.inputs["subnetId"] == prod.one(SUBNET, f"public-{zone}").id
        assert default_routes(prod)[f"private-{zone}"] == {"natGatewayId": gateway.id}
    assert len(prod.of_type("aws:ec2/eip:Eip")) == 2


def test_no_nat_leaves_private_subnets_without_a_default_route():
    # Without NAT a standard stack needs the interface endpoints (stackconfig.rules); so does this run.
    run = network_alone(natStrategy="none", interfaceEndpoints=True)
    assert set(default_routes(run)) == {"public"}
    assert run.of_type("aws:ec2/instance:Instance") == []


def test_s3_gateway_endpoint_everywhere_interface_endpoints_only_in_prod(dev, staging, prod):
    for run in (dev, staging, prod):
        s3 = run.one(ENDPOINT, "-s3")
        assert (s3.inputs["serviceName"], s3.inputs["vpcEndpointType"]) == ("com.amazonaws.us-east-1.s3", "Gateway")
        assert len(s3.inputs["routeTableIds"]) == 4  # public, two private, database
    assert [e.inputs["vpcEndpointType"] for e in dev.of_type(ENDPOINT)] == ["Gateway"]
    interface = {
        e.inputs["serviceName"]: e for e in prod.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"
    }
    assert sorted(interface) == [
        f"com.amazonaws.us-east-1.{s}" for s in ("ecr.api", "ecr.dkr", "logs", "secretsmanager", "sqs")
    ]
    private_ids = {prod.one(SUBNET, "private-a").id, prod.one(SUBNET, "private-b").id}
    for endpoint in interface.values():
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert set(endpoint.inputs["subnetIds"]) == private_ids


def test_flow_logs_go_to_a_log_group_with_the_stack_retention(dev, prod):
    for run, days in ((dev, 7), (prod, 30)):
        group = run.one("aws:cloudwatch/logGroup:LogGroup", "-flow-logs")
        assert group.inputs["retentionInDays"] == days
        flow = run.one("aws:ec2/flowLog:FlowLog")
        assert (flow.inputs["trafficType"], flow.inputs["logDestination"]) == ("ALL", group.state["arn"])
        trust = json.loads(run.one("aws:iam/role:Role", "-flow-logs").inputs["assumeRolePolicy"])
        assert trust["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
        assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_security_group_chain_alb_to_api_to_database(stack):
    run = committed_run(stack)
    ids = {label: group_id(run, label) for label in ("alb", "api", "worker", "scheduler", "database")}
    rules = {
        (
            label,
            r.inputs.get("fromPort"),
            r.inputs.get("cidrIpv4") or r.inputs.get("cidrIpv6") or r.inputs.get("referencedSecurityGroupId"),
        )
        for r in run.of_type(INGRESS)
        for label, gid in ids.items()
        if r.inputs["securityGroupId"] == gid
    }
    # Where the stack has a cluster, its nodes (the mesh's services) are the database's fourth client.
    nodes = {
        ("database", 5432, r.id)
        for r in run.of_type("aws:ec2/securityGroup:SecurityGroup")
        if r.name.endswith("-eks-nodes-sg")
    }
    assert bool(nodes) == run.config.eks.enabled
    assert rules == {
        ("alb", 80, "0.0.0.0/0"),
        ("alb", 80, "::/0"),
        ("alb", 443, "0.0.0.0/0"),
        ("alb", 443, "::/0"),
        ("api", 8080, ids["alb"]),
        ("database", 5432, ids["api"]),
        ("database", 5432, ids["worker"]),
        ("database", 5432, ids["scheduler"]),
        *nodes,
    }
    assert egress_of(run, "alb") == {("tcp", 8080, 8080, ids["api"])}
    # The database's clients leave on HTTPS (AWS APIs, the registry) and reach PostgreSQL in its group
    # only; where the stack has a cache (staging, prod) the API and worker also reach Valkey in its group.
    cache = [g.id for g in run.of_type("aws:ec2/securityGroup:SecurityGroup") if g.name.endswith("-cache-sg")]
    for client in ("api", "worker", "scheduler"):
        expected = {("tcp", 443, 443, "0.0.0.0/0"), ("tcp", 5432, 5432, ids["database"])}
        if cache and client != "scheduler":
            expected.add(("tcp", 6379, 6379, cache[0]))
        assert egress_of(run, client) == expected
    assert bool(cache) == (stack in ("staging", "prod"))
    assert egress_of(run, "database") == set()


def test_interface_endpoints_admit_https_from_the_vpc_and_send_nothing(prod):
    rules = [r.inputs for r in prod.of_type(INGRESS) if r.inputs["securityGroupId"] == group_id(prod, "endpoints")]
    assert [(r["ipProtocol"], r["fromPort"], r["toPort"], r["cidrIpv4"]) for r in rules] == [
        ("tcp", 443, 443, "10.0.0.0/16")
    ]
    assert egress_of(prod, "endpoints") == set()


def test_every_rule_is_described_and_only_the_alb_is_open_to_the_internet(any_stack):
    for rule in any_stack.of_type(INGRESS) + any_stack.of_type(EGRESS):
        assert rule.inputs.get("description"), rule.name
    open_ingress = sorted(
        r.name.removeprefix(f"flowbuilder-{any_stack.stack}-")
        for r in any_stack.of_type(INGRESS)
        if r.inputs.get("cidrIpv4") == "0.0.0.0/0" or r.inputs.get("cidrIpv6") == "::/0"
    )
    expected = (
        [] if any_stack.stack == "ultra" else ["alb-443-ipv4-in", "alb-443-ipv6-in", "alb-80-ipv4-in", "alb-80-ipv6-in"]
    )
    assert open_ingress == expected


def test_default_security_group_is_emptied(dev):
    default = dev.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.inputs["vpcId"] == dev.one("aws:ec2/vpc:Vpc").id
    assert not default.inputs.get("ingress") and not default.inputs.get("egress")


def test_db_subnet_group_spans_the_database_subnets(dev):
    group = dev.one("aws:rds/subnetGroup:SubnetGroup")
    assert group.inputs["name"] == "flowbuilder-dev-db"
    assert group.inputs["subnetIds"] == [dev.one(SUBNET, "database-a").id, dev.one(SUBNET, "database-b").id]


def test_zero_scale_adopts_the_default_vpc_and_creates_only_the_worker_group(ultra):
    assert not {r.type for r in ultra.resources} & NO_VPC_TYPES
    assert ultra.outputs["vpcId"] == "vpc-0d3fa017c0ffee000"
    assert len(ultra.outputs["publicSubnetIds"]) == 3
    (group,) = ultra.of_type(GROUP)
    assert group.inputs["vpcId"] == "vpc-0d3fa017c0ffee000"
    assert [r for r in ultra.of_type(INGRESS) if r.inputs["securityGroupId"] == group.id] == []
    # HTTPS to AWS APIs and the registry, PostgreSQL to the external database (its address is a secret).
    assert egress_of(ultra, "worker") == {("tcp", 443, 443, "0.0.0.0/0"), ("tcp", 5432, 5432, "0.0.0.0/0")}
    assert ultra.outputs["securityGroupIds"] == {"worker": group.id}
    assert ultra.outputs["applicationSecurityGroupIds"] == [group.id]
    assert "privateSubnetIds" not in ultra.outputs


def test_zero_scale_adopts_a_named_vpc():
    def build(context) -> None:
        ExistingVpc(context.prefix, ExistingVpcArgs("vpc-0abc1234def567890"))

    run = run_component(build, stack="ultra")
    assert run.one(GROUP).inputs["vpcId"] == "vpc-0abc1234def567890"


def test_every_aws_resource_uses_the_stack_provider_with_default_tags(any_stack):
    provider = any_stack.one("pulumi:providers:aws", "-aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags == {
        "project": "flowbuilder",
        "stack": any_stack.stack,
        "environment": {"dev": "dev", "staging": "staging", "prod": "prod", "ultra": "staging"}[any_stack.stack],
        "managed-by": "pulumi",
        "cost-center": "flowbuilder-platform",
    }
    assert provider.inputs["region"] == "us-east-1"
    # Backups' copy-region provider is the only other one, and carries the same tags.
    providers = {p.urn: p for p in any_stack.of_type("pulumi:providers:aws")}
    for other in providers.values():
        assert json.loads(other.inputs["defaultTags"])["tags"] == tags, other.name
        assert other is provider or other.inputs["region"] == "us-west-2"
    for resource in any_stack.resources:
        if resource.custom and resource.type.startswith("aws:"):
            assert resource.provider.rsplit("::", 1)[0] in providers, resource.name
