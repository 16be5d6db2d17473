"""Networking: the standard topology's VPC, its tiers, NAT, endpoints, flow logs and security groups."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from stackconfig import NatStrategy
from stackconfig.dated_tables import EXCLUDED_ZONE_IDS
from stackconfig.model import NetworkConfig

from ..constants import HTTPS_PORT
from ..context import StackContext
from ..iam import role_policy, service_role, statement
from ..logs import log_group
from .security_groups import ANYWHERE, RuleMaker, SecurityGroups, standard_security_groups

INTERFACE_ENDPOINT_SERVICES = ("logs", "sqs", "secretsmanager", "ecr.api", "ecr.dkr")

# Configures a stock Amazon Linux 2023 instance as a NAT: forward and
# masquerade, persisted across reboots. Stock AL2023 instead of a community NAT
# AMI keeps the image AWS-maintained.
NAT_INSTANCE_USER_DATA = textwrap.dedent(
    """\
    #!/bin/bash
    set -euo pipefail
    dnf install -y iptables-services
    echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-nat.conf
    sysctl --system
    iface=$(ip route show default | awk '{print $5; exit}')
    iptables -t nat -A POSTROUTING -o "$iface" -j MASQUERADE
    iptables -F FORWARD
    service iptables save
    systemctl enable --now iptables
    """
)
NAT_INSTANCE_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"


def _zone_number(zone_id: str) -> int:
    return int(zone_id.rsplit("-az", 1)[1])


@dataclass
class NetworkingArgs:
    """Inputs of :class:`Networking`."""

    context: StackContext
    network: NetworkConfig
    api_port: int
    """``api.containerPort``: what the load balancer forwards to and the API group admits."""
    private_subnet_tags: Mapping[str, str] = field(default_factory=dict)
    """Extra tags of the private subnets (Karpenter's discovery tag where the stack has a cluster)."""


class Networking(pulumi.ComponentResource):
    """The standard stack's network, which every other component lives in.

    Creates:

    * a VPC (default 10.0.0.0/16, DNS on) over ``network.availabilityZones`` AZs (default 2),
      chosen by zone ID: ``network.availabilityZoneIds`` when pinned, else the region's lowest
      zone IDs less those EKS or the Graviton types are not offered in (``EXCLUDED_ZONE_IDS``);
    * three subnet tiers per AZ: public (default 10.0.0.0/24, 10.0.1.0/24), private
      (10.0.10.0/24, 10.0.11.0/24) and database (10.0.20.0/24, 10.0.21.0/24);
    * an internet gateway and one route table per tier (private: one per AZ); the
      database tier has no route out of the VPC;
    * the NAT strategy (``none``, ``single-gateway``, ``gateway-per-az`` or ``instance``:
      a Graviton instance, t4g.nano by default, source/dest check off, its own
      security group forwarding HTTPS from the VPC only, its volume and network interface
      tagged with the stack's default tags, which the provider does not carry there);
    * an S3 gateway endpoint always, and interface endpoints for logs, sqs,
      secretsmanager, ecr.api and ecr.dkr when ``network.interfaceEndpoints``;
    * VPC flow logs to a CloudWatch log group kept ``logRetentionDays``;
    * the security-group chain ALB (80/443 from anywhere) -> api (container port
      from the ALB) -> database (5432 from api, worker and scheduler), plus worker
      and scheduler groups with no ingress; api, worker and scheduler leave the VPC
      on HTTPS only and reach PostgreSQL only in the database group; the default
      security group emptied;
    * a DB subnet group over the database subnets.
    """

    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    database_subnet_ids: pulumi.Output[list[str]]
    db_subnet_group_name: pulumi.Output[str]
    security_groups: SecurityGroups

    def __init__(self, name: str, args: NetworkingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Networking", name, None, opts)
        self._name = name
        self._context = args.context
        self._network = args.network
        self._extra_tags = {"private": dict(args.private_subnet_tags)}
        self._create_vpc(args.api_port)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "database_subnet_ids": self.database_subnet_ids,
                "security_group_ids": self.security_groups.by_label(),
            }
        )

    def _create_vpc(self, api_port: int) -> None:
        network = self._network
        self._zones = self._choose_zones()
        self._vpc = aws.ec2.Vpc(
            f"{self._name}-vpc",
            cidr_block=network.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{self._name}-vpc"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.vpc_id = self._vpc.id
        self._rules = RuleMaker(self._name, self._vpc.id, self)
        # An empty default security group: anything launched without a group gets no access.
        aws.ec2.DefaultSecurityGroup(
            f"{self._name}-default-sg",
            vpc_id=self._vpc.id,
            tags={"Name": f"{self._name}-default-unused"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        public = self._subnets("public", network.public_subnet_cidrs)
        private = self._subnets("private", network.private_subnet_cidrs)
        database = self._subnets("database", network.database_subnet_cidrs)
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.database_subnet_ids = pulumi.Output.all(*[s.id for s in database])

        self.security_groups = standard_security_groups(self._rules, api_port)
        public_table = self._public_routes(public)
        private_tables = self._private_routes(private, public)
        database_table = self._route_table("database")
        for subnet_index, subnet in enumerate(database):
            self._associate("database", subnet_index, subnet, database_table)
        self._endpoints(private, [*private_tables, database_table, public_table])
        self._flow_logs()

        subnet_group = aws.rds.SubnetGroup(
            f"{self._name}-db",
            name=f"{self._name}-db",
            description=f"{self._name} database subnets",
            subnet_ids=[s.id for s in database],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.db_subnet_group_name = subnet_group.name

    def _choose_zones(self) -> list[tuple[str, str]]:
        """(zone ID, zone name) of each AZ to use: the pinned IDs, else the lowest usable IDs.

        By ID because a zone name points at a different zone in every account; opt-in Local and
        Wavelength Zones and the zones in ``EXCLUDED_ZONE_IDS`` never qualify.
        """
        network = self._network
        offered = aws.get_availability_zones(
            state="available",
            filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
            opts=pulumi.InvokeOptions(parent=self),
        )
        names = dict(zip(offered.zone_ids, offered.names, strict=True))
        if network.availability_zone_ids:
            missing = [zone for zone in network.availability_zone_ids if zone not in names]
            if missing:
                raise pulumi.RunError(
                    f"network.availabilityZoneIds: {', '.join(missing)} not offered to this account in "
                    f"{self._context.region}; offered: {', '.join(sorted(names, key=_zone_number))}"
                )
            return [(zone, names[zone]) for zone in network.availability_zone_ids]
        usable = sorted((zone for zone in names if zone not in EXCLUDED_ZONE_IDS), key=_zone_number)
        if len(usable) < network.availability_zones:
            raise pulumi.RunError(
                f"{self._context.region} offers {len(usable)} usable AZs ({', '.join(usable)}); "
                f"network.availabilityZones asks for {network.availability_zones}"
            )
        return [(zone, names[zone]) for zone in usable[: network.availability_zones]]

    def _subnets(self, tier: str, cidrs: list[str]) -> list[aws.ec2.Subnet]:
        return [
            aws.ec2.Subnet(
                f"{self._name}-{tier}-{zone_name[-1]}",
                vpc_id=self._vpc.id,
                cidr_block=cidr,
                availability_zone_id=zone_id,
                map_public_ip_on_launch=False,
                tags={"Name": f"{self._name}-{tier}-{zone_name[-1]}", "tier": tier, **self._extra_tags.get(tier, {})},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for (zone_id, zone_name), cidr in zip(self._zones, cidrs, strict=False)
        ]

    def _route_table(self, label: str) -> aws.ec2.RouteTable:
        return aws.ec2.RouteTable(
            f"{self._name}-{label}-rt",
            vpc_id=self._vpc.id,
            tags={"Name": f"{self._name}-{label}"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _associate(self, tier: str, index: int, subnet: aws.ec2.Subnet, table: aws.ec2.RouteTable) -> None:
        aws.ec2.RouteTableAssociation(
            f"{self._name}-{tier}-{self._zones[index][1][-1]}-rta",
            subnet_id=subnet.id,
            route_table_id=table.id,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _default_route(self, label: str, table: aws.ec2.RouteTable, **target: pulumi.Input[str]) -> None:
        aws.ec2.Route(
            f"{self._name}-{label}-default-route",
            route_table_id=table.id,
            destination_cidr_block=ANYWHERE,
            opts=pulumi.ResourceOptions(parent=self),
            **target,
        )

    def _public_routes(self, public: list[aws.ec2.Subnet]) -> aws.ec2.RouteTable:
        gateway = aws.ec2.InternetGateway(
            f"{self._name}-igw",
            vpc_id=self._vpc.id,
            tags={"Name": f"{self._name}-igw"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        table = self._route_table("public")
        self._default_route("public", table, gateway_id=gateway.id)
        for index, subnet in enumerate(public):
            self._associate("public", index, subnet, table)
        return table

    def _private_routes(self, private: list[aws.ec2.Subnet], public: list[aws.ec2.Subnet]) -> list[aws.ec2.RouteTable]:
        strategy = self._network.nat_strategy
        labels = [f"private-{zone_name[-1]}" for _, zone_name in self._zones]
        tables = [self._route_table(label) for label in labels]
        for index, (subnet, table) in enumerate(zip(private, tables, strict=True)):
            self._associate("private", index, subnet, table)

        if strategy is NatStrategy.GATEWAY_PER_AZ:
            targets = [
                {"nat_gateway_id": self._nat_gateway(zone_name[-1], subnet).id}
                for (_, zone_name), subnet in zip(self._zones, public, strict=True)
            ]
        elif strategy is NatStrategy.SINGLE_GATEWAY:
            targets = [{"nat_gateway_id": self._nat_gateway(self._zones[0][1][-1], public[0]).id}] * len(tables)
        elif strategy is NatStrategy.INSTANCE:
            targets = [{"network_interface_id": self._nat_instance(public[0]).primary_network_interface_id}] * len(
                tables
            )
        else:
            targets = []
        for label, table, target in zip(labels, tables, targets, strict=False):
            self._default_route(label, table, **target)
        return tables

    def _nat_gateway(self, zone_letter: str, subnet: aws.ec2.Subnet) -> aws.ec2.NatGateway:
        address = aws.ec2.Eip(
            f"{self._name}-nat-{zone_letter}-eip",
            domain="vpc",
            tags={"Name": f"{self._name}-nat-{zone_letter}"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.ec2.NatGateway(
            f"{self._name}-nat-{zone_letter}",
            allocation_id=address.allocation_id,
            subnet_id=subnet.id,
            tags={"Name": f"{self._name}-nat-{zone_letter}"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _nat_instance(self, subnet: aws.ec2.Subnet) -> aws.ec2.Instance:
        network = self._network
        # The clients in the private subnets leave the VPC on HTTPS only, so that is all the
        # instance forwards; its own package and agent downloads are HTTPS too.
        group = self._rules.group("nat", "NAT instance: HTTPS from inside the VPC, forwarded to the internet")
        self._rules.ingress(
            "nat",
            group,
            "HTTPS from the VPC, to forward",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            cidr_ipv4=network.vpc_cidr,
        )
        self._rules.egress(
            "nat-out",
            group,
            "Forwarded HTTPS, and the instance's own package downloads",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            cidr_ipv4=ANYWHERE,
        )
        ami = aws.ssm.get_parameter(name=NAT_INSTANCE_AMI_PARAMETER, opts=pulumi.InvokeOptions(parent=self)).value
        instance = aws.ec2.Instance(
            f"{self._name}-nat",
            ami=ami,
            instance_type=network.nat_instance_type,
            subnet_id=subnet.id,
            vpc_security_group_ids=[group.id],
            associate_public_ip_address=True,
            source_dest_check=False,
            user_data=NAT_INSTANCE_USER_DATA,
            user_data_replace_on_change=True,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required", http_endpoint="enabled"),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(encrypted=True, volume_type="gp3", volume_size=8),
            maintenance_options=aws.ec2.InstanceMaintenanceOptionsArgs(auto_recovery="default"),
            tags={"Name": f"{self._name}-nat"},
            # Provider default tags reach neither the volumes nor the network interface an
            # instance creates; volume_tags applies at creation, so the volume is never untagged.
            volume_tags={**self._context.tags, "Name": f"{self._name}-nat"},
            # A newer AL2023 image must not replace a working NAT on every update.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"]),
        )
        for key, value in {**self._context.tags, "Name": f"{self._name}-nat"}.items():
            aws.ec2.Tag(
                f"{self._name}-nat-eni-{key}",
                resource_id=instance.primary_network_interface_id,
                key=key,
                value=value,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return instance

    def _endpoints(self, private: list[aws.ec2.Subnet], tables: list[aws.ec2.RouteTable]) -> None:
        region = self._context.region
        aws.ec2.VpcEndpoint(
            f"{self._name}-s3",
            vpc_id=self._vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in tables],
            tags={"Name": f"{self._name}-s3"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        if not self._network.interface_endpoints:
            return
        # No egress rule: an endpoint only answers the connections made to it.
        group = self._rules.group("endpoints", "Interface endpoints: HTTPS from inside the VPC")
        self._rules.ingress(
            "endpoints",
            group,
            "HTTPS to AWS APIs from the VPC",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            cidr_ipv4=self._network.vpc_cidr,
        )
        for service in INTERFACE_ENDPOINT_SERVICES:
            label = service.replace(".", "-")
            aws.ec2.VpcEndpoint(
                f"{self._name}-{label}",
                vpc_id=self._vpc.id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private],
                security_group_ids=[group.id],
                tags={"Name": f"{self._name}-{label}"},
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _flow_logs(self) -> None:
        child = pulumi.ResourceOptions(parent=self)
        group = log_group(
            f"{self._name}-flow-logs", f"/flowbuilder/{self._context.stack}/vpc-flow-logs", self._context, child
        )
        role = service_role(
            f"{self._name}-flow-logs",
            self._context,
            "vpc-flow-logs.amazonaws.com",
            "Lets VPC flow logs write to their log group",
            child,
        )
        role_policy(
            f"{self._name}-flow-logs",
            role,
            [
                statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    [group.arn, group.arn.apply(lambda arn: f"{arn}:*")],
                )
            ],
            child,
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=self._vpc.id,
            traffic_type=self._network.flow_log_traffic,
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags={"Name": f"{self._name}-flow-log"},
            opts=pulumi.ResourceOptions(parent=self),
        )
