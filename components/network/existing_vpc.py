"""ExistingVpc: the zero-scale stack adopts a VPC (the account's default one unless named)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..constants import POSTGRES_PORT
from .security_groups import ANYWHERE, RuleMaker


@dataclass
class ExistingVpcArgs:
    """Inputs of :class:`ExistingVpc`."""

    vpc_id: str | None
    """``network.existingVpcId``; None adopts the account's default VPC."""


class ExistingVpc(pulumi.ComponentResource):
    """The zero-scale stack's network: nothing but a security group in a VPC it does not own.

    Looks up the VPC (``network.existingVpcId``, else the account's default VPC) and its public
    subnets (those that assign public IPs on launch), where worker tasks run with a public IP and
    no NAT. Creates only the worker security group: no ingress; egress HTTPS to anywhere (AWS APIs,
    the image registry) and PostgreSQL (5432) to anywhere, since the external database's address
    is known only to its URL secret.
    """

    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    worker_security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: ExistingVpcArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:ExistingVpc", name, None, opts)
        invoke = pulumi.InvokeOptions(parent=self)
        vpc = (
            aws.ec2.get_vpc(id=args.vpc_id, opts=invoke) if args.vpc_id else aws.ec2.get_vpc(default=True, opts=invoke)
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

        rules = RuleMaker(name, self.vpc_id, self)
        worker = rules.group("worker", "Worker tasks: no ingress; HTTPS and PostgreSQL out")
        rules.https_out("worker", worker)
        rules.egress(
            "worker-postgres-out",
            worker,
            "PostgreSQL to the external database",
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            cidr_ipv4=ANYWHERE,
        )
        self.worker_security_group_id = worker.id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "worker_security_group_id": self.worker_security_group_id,
            }
        )
