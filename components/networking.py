"""Networking: the VPC of a standard stack, or the adopted VPC of a zero-scale stack."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig import NatStrategy, StackConfig, Topology

from .iam import policy_document, service_trust_policy, statement

INTERFACE_ENDPOINT_SERVICES = ("logs", "sqs", "secretsmanager", "ecr.api", "ecr.dkr")
POSTGRES_PORT = 5432
ANYWHERE = "0.0.0.0/0"
ANYWHERE_V6 = "::/0"

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


@dataclass
class NetworkingArgs:
    """Inputs of :class:`Networking`; everything comes from the validated stack config."""

    config: StackConfig


class Networking(pulumi.ComponentResource):
    """The network every other component lives in.

    Standard topology creates:

    * a VPC (default 10.0.0.0/16, DNS on) over ``network.availabilityZones`` AZs (default 2);
    * three subnet tiers per AZ: public (default 10.0.0.0/24, 10.0.1.0/24), private
      (10.0.10.0/24, 10.0.11.0/24) and database (10.0.20.0/24, 10.0.21.0/24);
    * an internet gateway and one route table per tier (private: one per AZ); the
      database tier has no route out of the VPC;
    * the NAT strategy (``none``, ``single-gateway``, ``gateway-per-az`` or ``instance``:
      a Graviton instance, t4g.nano by default, source/dest check off, its own
      security group open only to the VPC);
    * an S3 gateway endpoint always, and interface endpoints for logs, sqs,
      secretsmanager, ecr.api and ecr.dkr when ``network.interfaceEndpoints``;
    * VPC flow logs to a CloudWatch log group kept ``logRetentionDays``;
    * the security-group chain ALB (80/443 from anywhere) -> api (container port
      from the ALB) -> database (5432 from api, worker and scheduler), plus worker
      and scheduler groups with no ingress; the default security group emptied;
    * a DB subnet group over the database subnets.

    Zero-scale topology creates no network: it looks up ``network.existingVpcId``
    (else the account's default VPC) and its public subnets, and creates only the
    worker security group (egress only).
    """

    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    database_subnet_ids: pulumi.Output[list[str]]
    db_subnet_group_name: pulumi.Output[str] | None
    security_group_ids: dict[str, pulumi.Output[str]]
    """Keys: ``worker`` always; ``alb``, ``api``, ``scheduler``, ``database`` in standard."""

    def __init__(self, name: str, args: NetworkingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Networking", name, None, opts)
        self._name = name
        self._config = args.config
        if args.config.topology is Topology.STANDARD:
            self._create_vpc()
        else:
            self._adopt_vpc()
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "database_subnet_ids": self.database_subnet_ids,
                "security_group_ids": self.security_group_ids,
            }
        )

    # -- zero-scale ----------------------------------------------------------
    def _adopt_vpc(self) -> None:
        invoke = pulumi.InvokeOptions(parent=self)
        network = self._config.network
        vpc = (
            aws.ec2.get_vpc(id=network.existing_vpc_id, opts=invoke)
            if network.existing_vpc_id
            else aws.ec2.get_vpc(default=True, opts=invoke)
        )
        public = aws.ec2.get_subnets(
            filters=[
                aws.ec2.GetSubnetsFilterArgs(name="vpc-id", values=[vpc.id]),
                aws.ec2.GetSubnetsFilterArgs(name="map-public-ip-on-launch", values=["true"]),
            ],
            opts=invoke,
        )
        self.vpc_id = pulumi.Output.from_input(vpc.id)
        self.public_subnet_ids = pulumi.Output.from_input(sorted(public.ids))
        self.private_subnet_ids = pulumi.Output.from_input([])
        self.database_subnet_ids = pulumi.Output.from_input([])
        self.db_subnet_group_name = None
        worker = self._security_group("worker", "Worker tasks: no ingress, egress to the internet")
        self._egress_anywhere("worker", worker)
        self.security_group_ids = {"worker": worker.id}

    # -- standard ------------------------------------------------------------
    def _create_vpc(self) -> None:
        network = self._config.network
        zones = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(parent=self)).names
        if len(zones) < network.availability_zones:
            raise pulumi.RunError(
                f"{self._config.region} offers {len(zones)} AZs; network.availabilityZones asks for {network.availability_zones}"
            )
        self._zones = zones[: network.availability_zones]
        self._vpc = aws.ec2.Vpc(
            f"{self._name}-vpc",
            cidr_block=network.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{self._name}-vpc"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.vpc_id = self._vpc.id
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

        self._create_security_groups()
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

    def _subnets(self, tier: str, cidrs: list[str]) -> list[aws.ec2.Subnet]:
        return [
            aws.ec2.Subnet(
                f"{self._name}-{tier}-{zone[-1]}",
                vpc_id=self._vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={"Name": f"{self._name}-{tier}-{zone[-1]}", "tier": tier},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for zone, cidr in zip(self._zones, cidrs)
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
            f"{self._name}-{tier}-{self._zones[index][-1]}-rta",
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
        strategy = self._config.network.nat_strategy
        labels = [f"private-{zone[-1]}" for zone in self._zones]
        tables = [self._route_table(label) for label in labels]
        for index, (subnet, table) in enumerate(zip(private, tables)):
            self._associate("private", index, subnet, table)

        if strategy is NatStrategy.GATEWAY_PER_AZ:
            targets = [
                {"nat_gateway_id": self._nat_gateway(zone[-1], subnet).id} for zone, subnet in zip(self._zones, public)
            ]
        elif strategy is NatStrategy.SINGLE_GATEWAY:
            targets = [{"nat_gateway_id": self._nat_gateway(self._zones[0][-1], public[0]).id}] * len(tables)
        elif strategy is NatStrategy.INSTANCE:
            targets = [{"network_interface_id": self._nat_instance(public[0]).primary_network_interface_id}] * len(
                tables
            )
        else:
            targets = []
        for label, table, target in zip(labels, tables, targets):
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
        network = self._config.network
        group = self._security_group("nat", "NAT instance: any traffic from inside the VPC")
        self._ingress(
            "nat",
            group,
            "Forwarded traffic from the VPC",
            ip_protocol="-1",
            cidr_ipv4=network.vpc_cidr,
        )
        self._egress_anywhere("nat", group)
        ami = aws.ssm.get_parameter(name=NAT_INSTANCE_AMI_PARAMETER, opts=pulumi.InvokeOptions(parent=self)).value
        return aws.ec2.Instance(
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
            # A newer AL2023 image must not replace a working NAT on every update.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"]),
        )

    def _endpoints(self, private: list[aws.ec2.Subnet], tables: list[aws.ec2.RouteTable]) -> None:
        region = self._config.region
        aws.ec2.VpcEndpoint(
            f"{self._name}-s3",
            vpc_id=self._vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in tables],
            tags={"Name": f"{self._name}-s3"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        if not self._config.network.interface_endpoints:
            return
        group = self._security_group("endpoints", "Interface endpoints: HTTPS from inside the VPC")
        self._ingress(
            "endpoints",
            group,
            "HTTPS to AWS APIs from the VPC",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=self._config.network.vpc_cidr,
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
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-flow-logs",
            name=f"/flowbuilder/{self._config.stack}/vpc-flow-logs",
            retention_in_days=self._config.log_retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )
        account = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self)).account_id
        role = aws.iam.Role(
            f"{self._name}-flow-logs",
            assume_role_policy=service_trust_policy("vpc-flow-logs.amazonaws.com", account),
            description="Lets VPC flow logs write to their log group",
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{self._name}-flow-logs",
            role=role.id,
            policy=policy_document(
                statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    [log_group.arn, log_group.arn.apply(lambda arn: f"{arn}:*")],
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=self._vpc.id,
            traffic_type=self._config.network.flow_log_traffic,
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags={"Name": f"{self._name}-flow-log"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    # -- security groups ----------------------------------------------------
    def _create_security_groups(self) -> None:
        port = self._config.api.container_port
        alb = self._security_group("alb", "Load balancer: HTTP and HTTPS from the internet")
        api = self._security_group("api", "API tasks: container port from the load balancer only")
        worker = self._security_group("worker", "Worker tasks: no ingress")
        scheduler = self._security_group("scheduler", "Scheduler Lambda: no ingress")
        database = self._security_group("database", "PostgreSQL: from the API, worker and scheduler only")

        for listener_port in (80, 443):
            for family, cidr in (("cidr_ipv4", ANYWHERE), ("cidr_ipv6", ANYWHERE_V6)):
                self._ingress(
                    f"alb-{listener_port}-{family[-4:]}",
                    alb,
                    f"{'HTTP' if listener_port == 80 else 'HTTPS'} from the internet",
                    ip_protocol="tcp",
                    from_port=listener_port,
                    to_port=listener_port,
                    **{family: cidr},
                )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-alb-to-api",
            security_group_id=alb.id,
            description="Forward to API tasks on the container port",
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=api.id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._ingress(
            "api-from-alb",
            api,
            "Container port from the load balancer",
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=alb.id,
        )
        for client_label, client in (("api", api), ("worker", worker), ("scheduler", scheduler)):
            self._ingress(
                f"database-from-{client_label}",
                database,
                f"PostgreSQL from the {client_label}",
                ip_protocol="tcp",
                from_port=POSTGRES_PORT,
                to_port=POSTGRES_PORT,
                referenced_security_group_id=client.id,
            )
            # Clients reach AWS APIs, the registry and PostgreSQL; AWS APIs sit
            # behind NAT or endpoints, so egress stays open on HTTPS and 5432.
            self._egress_anywhere(client_label, client)
        self.security_group_ids = {
            "alb": alb.id,
            "api": api.id,
            "worker": worker.id,
            "scheduler": scheduler.id,
            "database": database.id,
        }

    def _security_group(self, label: str, description: str) -> aws.ec2.SecurityGroup:
        return aws.ec2.SecurityGroup(
            f"{self._name}-{label}-sg",
            name=f"{self._name}-{label}",
            description=description,
            vpc_id=self.vpc_id,
            tags={"Name": f"{self._name}-{label}"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _ingress(self, label: str, group: aws.ec2.SecurityGroup, description: str, **rule: pulumi.Input) -> None:
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-{label}-in",
            security_group_id=group.id,
            description=description,
            opts=pulumi.ResourceOptions(parent=self),
            **rule,
        )

    def _egress_anywhere(self, label: str, group: aws.ec2.SecurityGroup) -> None:
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-{label}-out",
            security_group_id=group.id,
            description="Outbound to AWS APIs, the image registry and the database",
            ip_protocol="-1",
            cidr_ipv4=ANYWHERE,
            opts=pulumi.ResourceOptions(parent=self),
        )
