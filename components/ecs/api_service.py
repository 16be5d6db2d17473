"""ApiService: the standard topology's API, a Fargate service behind the front door's target group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from stackconfig.model import ApiConfig, EcsConfig

from ..context import StackContext
from ..database import DatabaseConnection
from ..front_door import LoadBalancerTarget
from ..iam import statement
from ..images import Image
from ..network import Placement
from ..queues import QueueRef
from ..watch import Alarm, Metric, MissingData, Severity, Watch
from .cluster import FARGATE, ClusterRef
from .service import (
    SCALE_IN_COOLDOWN_SECONDS,
    SCALE_OUT_COOLDOWN_SECONDS,
    fargate_service,
    scalable_target,
    scaling_policy,
    service_environment,
    service_secrets,
    service_watch,
)
from .task_definition import TaskSpec, fargate_task, task_role

HEALTH_CHECK_GRACE_SECONDS = 60
API_SCALING_TARGET_PERCENT = 70


@dataclass
class ApiServiceArgs:
    """Inputs of :class:`ApiService`."""

    context: StackContext
    api: ApiConfig
    ecs: EcsConfig
    """``architecture``, ``execEnabled`` and ``applicationSecrets`` are used."""
    cluster: ClusterRef
    image: Image
    placement: Placement
    """The private subnets and the API security group."""
    target: LoadBalancerTarget
    queue: QueueRef
    """The work queue the API sends to."""
    database: DatabaseConnection
    after: Sequence[pulumi.Resource] = ()
    """What must succeed before the service rolls to a new revision: the release's migration."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Settings of the parts the stack turns on (the uploads bucket, the e-mail identity, the cache's ``CACHE_*``)."""


class ApiService(pulumi.ComponentResource):
    """The API tasks.

    Creates:

    * the task role ``<name>-api-task`` (``sqs:SendMessage`` on the work queue only, the database's
      grants (``rds-db:connect`` as ``flowbuilder_app``); ECS Exec's channels while ``ecs.execEnabled``);
    * the task definition ``<name>-api`` (see :mod:`components.ecs.task_definition`):
      ``api.cpu``/``api.memory``, image ``<api repository>@<digest>``, port ``api.containerPort``
      (8080), logs in ``/flowbuilder/<stack>/ecs/api``, the database settings as plain environment
      (IAM authentication: no password) and ``ecs.applicationSecrets`` as ECS secrets;
    * the service ``<name>-api`` in the private subnets, no public IP, on-demand Fargate only
      (Spot's 2-minute reclaim would drop requests), registered in the front door's target group
      with a 60 s health-check grace, AZ rebalancing, circuit breaker with rollback, rolled only
      after ``after`` (the migration) succeeded;
    * CPU and memory target tracking at 70 % between ``api.minCount`` and ``api.maxCount``.

    While ``flowbuilder:images`` has no api digest the service runs 0 tasks and its scaling is
    capped at 0, so a first ``pulumi up`` on an empty account succeeds (see docs/ecs.md).

    ``watch``: CPU above 80 % for 10 minutes and, once the image is released, no healthy task in
    the target group for 3 minutes; CPU, memory and (with Container Insights) running tasks.
    """

    service_name: str
    task_role_name: pulumi.Output[str]
    """The API's role: an application principal other components may grant access to."""
    image_uri: pulumi.Output[str]
    watch: Watch

    def __init__(self, name: str, args: ApiServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:ApiService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context, api, ecs = args.context, args.api, args.ecs
        self.service_name = context.name("ecs-service", "api")
        released = args.image.released
        if not released:
            args.image.warn_unreleased(
                "the API service runs 0 tasks, its scaling capped at 0, until the release workflow records one",
                self,
            )

        role = task_role(
            f"{name}-api",
            context,
            "API tasks: send work to the queue, connect to the database",
            [statement(["sqs:SendMessage"], [args.queue.arn], sid="SendWork"), *args.database.grants],
            child,
            exec_log_group=args.cluster.exec_log_group if ecs.exec_enabled else None,
        )
        task = fargate_task(
            f"{name}-api",
            context=context,
            family=context.name("ecs-family", "api"),
            log_name=f"/flowbuilder/{context.stack}/ecs/api",
            spec=TaskSpec(
                container_name="api",
                image=args.image,
                cpu=api.cpu,
                memory=api.memory,
                architecture=ecs.architecture,
                environment={
                    **args.environment,
                    **service_environment(context, args.queue, args.database),
                    **args.environment,
                    "PORT": str(api.container_port),
                },
                secrets=service_secrets(args.database, ecs),
                exec_enabled=ecs.exec_enabled,
                container={
                    "portMappings": [
                        {
                            "name": "http",
                            "containerPort": api.container_port,
                            "hostPort": api.container_port,
                            "protocol": "tcp",
                        }
                    ]
                },
            ),
            role=role,
            opts=child,
        )
        service = fargate_service(
            f"{name}-api",
            service_name=self.service_name,
            cluster=args.cluster,
            task=task,
            placement=args.placement,
            exec_enabled=ecs.exec_enabled,
            opts=child,
            depends_on=list(args.after),
            desired_count=api.desired_count if released else 0,
            capacity_provider_strategies=[
                # The API serves traffic: on-demand only, Spot's 2-minute reclaim would drop requests.
                aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider=FARGATE, weight=1, base=0)
            ],
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=args.target.target_group_arn,
                    container_name="api",
                    container_port=api.container_port,
                )
            ],
            health_check_grace_period_seconds=HEALTH_CHECK_GRACE_SECONDS,
            # Fargate spreads tasks over the subnets' AZs; rebalancing restores the spread after an AZ recovers.
            availability_zone_rebalancing="ENABLED",
        )
        target = scalable_target(
            f"{name}-api",
            cluster=args.cluster,
            service_name=self.service_name,
            service=service,
            minimum=api.min_count,
            maximum=api.max_count,
            released=released,
            opts=child,
        )
        for label, metric in (
            ("cpu", "ECSServiceAverageCPUUtilization"),
            ("memory", "ECSServiceAverageMemoryUtilization"),
        ):
            scaling_policy(
                f"{name}-api-{label}",
                target,
                child,
                policy_type="TargetTrackingScaling",
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=API_SCALING_TARGET_PERCENT,
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type=metric
                    ),
                    scale_in_cooldown=SCALE_IN_COOLDOWN_SECONDS,
                    scale_out_cooldown=SCALE_OUT_COOLDOWN_SECONDS,
                ),
            )
        self.task_role_name = role.name
        self.image_uri = args.image.uri
        self.watch = service_watch("api", args.cluster, self.service_name, ecs.container_insights)
        if released:
            # Before its image exists the API runs no task by design: "no healthy target" is expected.
            self.watch += Watch((no_healthy_targets(args.target),))
        self.register_outputs(
            {"service_name": self.service_name, "task_role_name": self.task_role_name, "image_uri": self.image_uri}
        )


def no_healthy_targets(target: LoadBalancerTarget) -> Alarm:
    return Alarm(
        "api-no-healthy-targets",
        severity=Severity.CRITICAL,
        summary="The load balancer has had no healthy API task for 3 minutes: the API is down.",
        runbook=(
            "Read the api service's events and stopped-task reasons (image pull, health check on "
            "/health, crash); the deployment circuit breaker rolls back a bad deploy by itself."
        ),
        metric=Metric(
            "AWS/ApplicationELB",
            "HealthyHostCount",
            {"LoadBalancer": target.load_balancer_arn_suffix, "TargetGroup": target.target_group_arn_suffix},
        ),
        statistic="Minimum",
        comparison="LessThanThreshold",
        threshold=1,
        evaluation_periods=3,
        period=60,
        # The load balancer reports its targets every minute; silence means it cannot.
        treat_missing_data=MissingData.BREACHING,
    )
