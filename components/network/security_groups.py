"""Security groups and their rules: the standard stack's chain, and the helpers both VPC kinds use.

Every group starts with no rule at all (the provider removes the default allow-all egress), so a
group allows exactly the rules declared here. Clients of the database leave the VPC on HTTPS only
(AWS APIs, the image registry, through NAT or endpoints) and reach PostgreSQL only in the
database group. Where a stack has a cache, the Cache component adds the API's and worker's
egress on 6379 to the cache's own group, next to that group's ingress.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..constants import HTTP_PORT, HTTPS_PORT, POSTGRES_PORT

ANYWHERE = "0.0.0.0/0"
ANYWHERE_V6 = "::/0"


@dataclass(frozen=True)
class SecurityGroups:
    """The standard stack's groups: the load balancer, the three application clients, the database."""

    alb: pulumi.Output[str]
    api: pulumi.Output[str]
    worker: pulumi.Output[str]
    scheduler: pulumi.Output[str]
    database: pulumi.Output[str]

    def by_label(self) -> dict[str, pulumi.Output[str]]:
        return {
            "alb": self.alb,
            "api": self.api,
            "worker": self.worker,
            "scheduler": self.scheduler,
            "database": self.database,
        }


class RuleMaker:
    """Declares groups (``<prefix>-<label>-sg``), ingress rules (``<prefix>-<label>-in``) and egress
    rules (``<prefix>-<label>``) under one parent."""

    def __init__(self, prefix: str, vpc_id: pulumi.Input[str], parent: pulumi.Resource) -> None:
        self._prefix = prefix
        self._vpc_id = vpc_id
        self._opts = pulumi.ResourceOptions(parent=parent)

    def group(self, label: str, description: str) -> aws.ec2.SecurityGroup:
        return aws.ec2.SecurityGroup(
            f"{self._prefix}-{label}-sg",
            # A prefix, not a name: description and VPC are replace-only, and the replacement is
            # created before the old group is deleted, in the same VPC, where names are unique.
            name_prefix=f"{self._prefix}-{label}-",
            description=description,
            vpc_id=self._vpc_id,
            tags={"Name": f"{self._prefix}-{label}"},
            opts=self._opts,
        )

    def ingress(self, label: str, group: aws.ec2.SecurityGroup, description: str, **rule: pulumi.Input) -> None:
        aws.vpc.SecurityGroupIngressRule(
            f"{self._prefix}-{label}-in", security_group_id=group.id, description=description, opts=self._opts, **rule
        )

    def egress(self, label: str, group: aws.ec2.SecurityGroup, description: str, **rule: pulumi.Input) -> None:
        aws.vpc.SecurityGroupEgressRule(
            f"{self._prefix}-{label}", security_group_id=group.id, description=description, opts=self._opts, **rule
        )

    def https_out(self, label: str, group: aws.ec2.SecurityGroup) -> None:
        """TLS to anywhere: AWS APIs, the image registry and the internet (through NAT or endpoints)."""
        self.egress(
            f"{label}-https-out",
            group,
            "HTTPS to AWS APIs, the image registry and the internet",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            cidr_ipv4=ANYWHERE,
        )


def standard_security_groups(rules: RuleMaker, api_port: int) -> SecurityGroups:
    """The chain ALB (80/443 from anywhere) -> api (``api_port`` from the ALB) -> database (5432 from
    api, worker and scheduler); the three clients leave on HTTPS and reach only PostgreSQL inside."""
    alb = rules.group("alb", "Load balancer: HTTP and HTTPS from the internet")
    api = rules.group("api", "API tasks: container port from the load balancer only")
    worker = rules.group("worker", "Worker tasks: no ingress")
    scheduler = rules.group("scheduler", "Scheduler Lambda: no ingress")
    database = rules.group("database", "PostgreSQL: from the API, worker and scheduler only")

    for listener_port in (HTTP_PORT, HTTPS_PORT):
        for family, cidr in (("cidr_ipv4", ANYWHERE), ("cidr_ipv6", ANYWHERE_V6)):
            rules.ingress(
                f"alb-{listener_port}-{family[-4:]}",
                alb,
                f"{'HTTP' if listener_port == HTTP_PORT else 'HTTPS'} from the internet",
                ip_protocol="tcp",
                from_port=listener_port,
                to_port=listener_port,
                **{family: cidr},
            )
    rules.egress(
        "alb-to-api",
        alb,
        "Forward to API tasks on the container port",
        ip_protocol="tcp",
        from_port=api_port,
        to_port=api_port,
        referenced_security_group_id=api.id,
    )
    rules.ingress(
        "api-from-alb",
        api,
        "Container port from the load balancer",
        ip_protocol="tcp",
        from_port=api_port,
        to_port=api_port,
        referenced_security_group_id=alb.id,
    )
    for client_label, client in (("api", api), ("worker", worker), ("scheduler", scheduler)):
        rules.ingress(
            f"database-from-{client_label}",
            database,
            f"PostgreSQL from the {client_label}",
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            referenced_security_group_id=client.id,
        )
        rules.https_out(client_label, client)
        rules.egress(
            f"{client_label}-postgres-out",
            client,
            "PostgreSQL to the database",
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            referenced_security_group_id=database.id,
        )
    return SecurityGroups(alb=alb.id, api=api.id, worker=worker.id, scheduler=scheduler.id, database=database.id)
