"""What the API service and the queue worker share: the ECS service itself and its scaling target."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig.model import EcsConfig

from ..context import StackContext
from ..database import ContainerSecret, DatabaseConnection
from ..network import Placement
from ..queues import QueueRef
from ..watch import Alarm, Graph, Metric, MissingData, Severity, Watch
from .cluster import ClusterRef
from .task_definition import FargateTask

SCALE_OUT_COOLDOWN_SECONDS = 60
SCALE_IN_COOLDOWN_SECONDS = 300
CPU_PERCENT = 80


def service_environment(
    context: StackContext, queue: QueueRef, database: DatabaseConnection
) -> dict[str, pulumi.Input[str]]:
    """The plain settings both services get: the database's, the work queue, the region and stack."""
    return {**database.environment, "QUEUE_URL": queue.url, "AWS_REGION": context.region, "STACK": context.stack}


def service_secrets(database: DatabaseConnection, ecs: EcsConfig) -> list[ContainerSecret]:
    """The database credentials and ``ecs.applicationSecrets`` (in name order), injected by ECS."""
    application = [ContainerSecret(name, reference) for name, reference in sorted(ecs.application_secrets.items())]
    return [*database.container_secrets, *application]


def fargate_service(
    name: str,
    *,
    service_name: str,
    cluster: ClusterRef,
    task: FargateTask,
    placement: Placement,
    exec_enabled: bool,
    opts: pulumi.ResourceOptions,
    depends_on: list[pulumi.Resource] | None = None,
    **settings: Any,
) -> aws.ecs.Service:
    """``<name>``: a Fargate service with a circuit breaker that rolls back, min healthy 100 % / max
    200 %, managed tags, and its desired count left to autoscaling once it exists."""
    return aws.ecs.Service(
        name,
        name=service_name,
        cluster=cluster.arn,
        task_definition=task.definition.arn,
        platform_version="LATEST",
        network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
            subnets=placement.subnet_ids,
            security_groups=[placement.security_group_id],
            assign_public_ip=placement.public_ip,
        ),
        deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
        deployment_minimum_healthy_percent=100,
        deployment_maximum_percent=200,
        enable_execute_command=exec_enabled,
        enable_ecs_managed_tags=True,
        propagate_tags="SERVICE",
        # Autoscaling owns the desired count once the service exists.
        opts=pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(
                ignore_changes=["desiredCount"], depends_on=[task.execution_policy, *(depends_on or [])]
            ),
        ),
        **settings,
    )


def scalable_target(
    name: str,
    *,
    cluster: ClusterRef,
    service_name: str,
    service: aws.ecs.Service,
    minimum: int,
    maximum: int,
    released: bool,
    opts: pulumi.ResourceOptions,
) -> aws.appautoscaling.Target:
    """``<name>-scaling``: the service's desired count between ``minimum`` and ``maximum``; capped at 0
    while its image is not released, so no policy starts a task that cannot pull."""
    if not released:
        minimum = maximum = 0
    return aws.appautoscaling.Target(
        f"{name}-scaling",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=f"service/{cluster.name}/{service_name}",
        min_capacity=minimum,
        max_capacity=maximum,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[service])),
    )


def scaling_policy(
    name: str, target: aws.appautoscaling.Target, opts: pulumi.ResourceOptions, **configuration: Any
) -> aws.appautoscaling.Policy:
    """``<name>``: a scaling policy (also its physical name) on ``target``."""
    return aws.appautoscaling.Policy(
        name,
        name=name,
        resource_id=target.resource_id,
        scalable_dimension=target.scalable_dimension,
        service_namespace=target.service_namespace,
        opts=opts,
        **configuration,
    )


def service_watch(label: str, cluster: ClusterRef, service_name: str, container_insights: bool) -> Watch:
    """A service's CPU alarm, its CPU and memory graph, and its line on the running-tasks graph
    (Container Insights is the only source of a task count)."""
    dimensions = {"ClusterName": cluster.name, "ServiceName": service_name}
    cpu = Metric("AWS/ECS", "CPUUtilization", dimensions)
    alarm = Alarm(
        f"{label}-cpu-high",
        severity=Severity.WARNING,
        summary=f"The {label} service averaged above {CPU_PERCENT}% CPU for 10 minutes.",
        runbook=(
            "Check whether autoscaling is at its maximum and what the tasks are doing; raise the "
            f"{label} cpu or maxCount in the stack config if the load is real."
        ),
        metric=cpu,
        statistic="Average",
        comparison="GreaterThanThreshold",
        threshold=CPU_PERCENT,
        evaluation_periods=2,
        # ECS publishes nothing for a service with no running task (the worker at zero): idle is fine.
        treat_missing_data=MissingData.NOT_BREACHING,
    )
    graphs = [
        Graph(
            f"{label}: CPU and memory (%)",
            (cpu.line(label="CPU"), Metric("AWS/ECS", "MemoryUtilization", dimensions).line(label="memory")),
            threshold=CPU_PERCENT,
            threshold_label="CPU alarm",
        )
    ]
    if container_insights:
        graphs.append(
            Graph(
                "Running tasks (Container Insights)",
                (Metric("ECS/ContainerInsights", "RunningTaskCount", dimensions).line(label=label),),
                stat="Maximum",
            )
        )
    return Watch((alarm,), tuple(graphs))
