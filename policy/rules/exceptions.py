"""The named exceptions: every deliberate deviation from a rule of this pack or from an AWS
Foundational Security Best Practices (FSBP) control, why it is taken, and where it is configured.

A rule that relaxes itself for some stacks does so only through :func:`excepted`, naming the
exception it applies; an exception no rule consults (``rule=None``) records a deviation from a
control the pack does not check. docs/security.md lists the same table, and the offline preview
prints the exceptions in effect for each stack (:func:`in_effect`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._support import StackFacts


@dataclass(frozen=True)
class Deviation:
    """One deviation, as an auditor reads it."""

    name: str
    what: str
    why: str
    where: str
    """The config key (or code) that decides it."""
    applies: Callable[[StackFacts], bool]
    """The stacks it is in effect on, from their environment and topology."""
    rule: str | None = None
    """The pack rule it relaxes; None for a control the pack does not check."""
    controls: tuple[str, ...] = ()
    """FSBP control IDs it deviates from."""
    stacks: str = ""
    """The same condition in words, for the docs."""


def _standard_outside_prod(facts: StackFacts) -> bool:
    return facts.standard and not facts.is_prod


def _standard(facts: StackFacts) -> bool:
    return facts.standard


def _standard_dev(facts: StackFacts) -> bool:
    return facts.standard and facts.is_dev


def _zero_scale(facts: StackFacts) -> bool:
    return facts.zero_scale


def _zero_scale_or_outside_prod(facts: StackFacts) -> bool:
    return facts.zero_scale or not facts.is_prod


def _always(facts: StackFacts) -> bool:
    return True


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "alb-protection-outside-prod",
        what="the ALB has no deletion protection and no access logs",
        why="cost and churn: dev and staging are torn down and rebuilt; their traffic is synthetic",
        where="FrontDoorArgs deletion_protection / access_logs (environment: prod)",
        applies=_standard_outside_prod,
        rule="alb-prod-protection",
        controls=("ELB.5", "ELB.6"),
        stacks="dev, staging",
    ),
    Deviation(
        "http-in-dev",
        what="the ALB may serve plain HTTP while flowbuilder:domain is unset",
        why="dev may come up before it has a domain; the apiEndpointNote output says so (staging and prod are "
        "refused without one)",
        where="flowbuilder:domain",
        applies=_standard_dev,
        rule="alb-https-outside-dev",
        controls=("ELB.1",),
        stacks="dev",
    ),
    Deviation(
        "container-insights-outside-prod",
        what="Container Insights is off",
        why="cost: its metrics and performance-log ingestion are billed per task, for stacks nobody is paged for",
        where="flowbuilder:ecs.containerInsights (default: prod on)",
        applies=_zero_scale_or_outside_prod,
        rule="ecs-container-insights-prod",
        controls=("ECS.12",),
        stacks="dev, staging, ultra",
    ),
    Deviation(
        "ecs-exec-outside-prod",
        what="ECS Exec (a shell into a running task) is on",
        why="debugging dev and staging; compensated: every session is logged to an encrypted log group and "
        "CloudTrail records who ran ExecuteCommand",
        where="flowbuilder:ecs.execEnabled (default: dev and staging on, prod off)",
        applies=_standard_outside_prod,
        rule="ecs-exec-off-in-prod",
        stacks="dev, staging",
    ),
    Deviation(
        "zero-scale-public-tasks",
        what="worker tasks run in public subnets with a public IP",
        why="cost: no NAT gateway in a stack that costs close to nothing idle; compensated: the worker's "
        "security group admits nothing inbound and leaves on 443 and 5432 only",
        where="flowbuilder:topology zero-scale (WorkerPipe placement)",
        applies=_zero_scale,
        rule="ecs-no-public-ip",
        controls=("ECS.2", "ECS.16"),
        stacks="ultra",
    ),
    Deviation(
        "zero-scale-services-outside-private-subnets",
        what="nothing runs in private subnets: the adopted VPC has only public ones",
        why="cost: the zero-scale topology has no NAT; see zero-scale-public-tasks",
        where="flowbuilder:topology zero-scale",
        applies=_zero_scale,
        rule="ecs-service-private-subnets",
        stacks="ultra",
    ),
    Deviation(
        "rds-resilience-outside-prod",
        what="the database is single-AZ, without deletion protection or a final snapshot",
        why="cost: Multi-AZ doubles the instance price; dev and staging data is rebuilt from migrations and seeds",
        where="flowbuilder:database.multiAz / deletionProtection / finalSnapshot (default: prod on)",
        applies=_standard_outside_prod,
        rule="rds-prod-resilience",
        controls=("RDS.5", "RDS.8"),
        stacks="dev, staging",
    ),
    Deviation(
        "performance-insights-outside-prod",
        what="Performance Insights and enhanced monitoring are off",
        why="cost: enhanced monitoring bills its log ingestion; nobody tunes queries against dev or staging load",
        where="flowbuilder:database.performanceInsights / enhancedMonitoringSeconds (default: prod on)",
        applies=_standard_outside_prod,
        rule="rds-performance-insights-prod",
        controls=("RDS.6",),
        stacks="dev, staging",
    ),
    Deviation(
        "dev-backups-one-day",
        what="automated database backups are kept 1 day",
        why="cost: dev data is disposable; staging keeps 7 and prod 30",
        where="flowbuilder:database.backupRetentionDays (default: dev 1)",
        applies=_standard_dev,
        rule="rds-backup-retention",
        controls=("RDS.11",),
        stacks="dev",
    ),
    Deviation(
        "database-default-port",
        what="PostgreSQL listens on its default port 5432",
        why="not applicable: the database is in subnets with no route out, reachable only from the application "
        "security groups; a different port hides nothing from a scanner inside the VPC",
        where="components/constants.py POSTGRES_PORT",
        applies=_standard,
        controls=("RDS.23",),
        stacks="dev, staging, prod",
    ),
    Deviation(
        "log-retention-below-one-year",
        what="log groups are kept logRetentionDays (dev 7, staging 14, prod 30 days), not 365",
        why="cost: CloudWatch Logs storage; the audit trail of API calls is CloudTrail's, kept by the account",
        where="flowbuilder:logRetentionDays",
        applies=_always,
        controls=("CloudWatch.16",),
        stacks="every stack",
    ),
    Deviation(
        "zero-scale-lambdas-outside-vpc",
        what="the scheduler and API functions run outside any VPC",
        why="not applicable: the external database is on the internet and there is no NAT to reach it from a VPC",
        where="flowbuilder:topology zero-scale (SchedulerLambda placement None)",
        applies=_zero_scale,
        controls=("Lambda.3",),
        stacks="ultra",
    ),
    Deviation(
        "lambda-failures-to-on-failure-destination",
        what="asynchronously invoked functions (scheduler, queue-backlog sampler) have an on-failure destination, "
        "not a dead_letter_config",
        why="an on-failure destination receives the event with the error and the response; a DLQ only the event. "
        "Both go to the same kind of queue (SSE, TLS-only, alarmed when not empty); configuring both would put "
        "every failure in the queue twice",
        where="components/scheduler_lambda.py, components/ecs/backlog_sampler.py (FunctionEventInvokeConfig)",
        applies=_always,
        stacks="every stack",
    ),
    Deviation(
        "sqs-managed-encryption",
        what="queues are encrypted with SSE-SQS, not the stack key",
        why="SSE-SQS satisfies SQS.1 at no cost; under a customer key every producer (Scheduler dead letters, "
        "Lambda destinations, Pipes, Step Functions) would need kms:GenerateDataKey and every poll would be a "
        "KMS request, for no reader the key would keep out (queue policies already do)",
        where="components/queues.py encrypted_queue",
        applies=_always,
        stacks="every stack",
    ),
)


def excepted(name: str, facts: StackFacts) -> bool:
    """Whether the exception ``name`` is in effect for a stack with these facts (raises on an unknown name,
    so a rule cannot consult an exception the table does not declare)."""
    return BY_NAME[name].applies(facts)


def in_effect(facts: StackFacts) -> list[Deviation]:
    """The exceptions in effect on a stack, in table order."""
    return [deviation for deviation in DEVIATIONS if deviation.applies(facts)]


BY_NAME = {deviation.name: deviation for deviation in DEVIATIONS}
