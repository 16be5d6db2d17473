"""QueueWorker: the standard topology's worker, a Fargate service that idles at 0 tasks.

Its scaling reads the backlog sampler's metrics, not SQS's own:

* zero to one: a step policy sets 1 task when messages wait and no task is wanted (target
  tracking multiplies the current count, so from 0 it never adds a task);
* one to many: target tracking toward ``worker.backlogPerTask`` messages per task, scale-in off;
* back to zero: a step policy, once the queue (visible + in flight) was empty in every sample of
  ``worker.scaleInAfterMinutes`` consecutive minutes while tasks ran.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig.model import EcsConfig, WorkerConfig

from ..context import StackContext
from ..database import DatabaseConnection
from ..iam import statement
from ..images import Image
from ..network import Placement
from ..queues import QueueRef
from ..watch import Graph, Metric, Watch
from .backlog_sampler import BacklogSampler, BacklogSamplerArgs
from .cluster import ClusterRef, capacity_strategy
from .service import (
    SCALE_OUT_COOLDOWN_SECONDS,
    fargate_service,
    scalable_target,
    scaling_policy,
    service_environment,
    service_secrets,
    service_watch,
)
from .task_definition import TaskSpec, fargate_task, task_role


@dataclass
class QueueWorkerArgs:
    """Inputs of :class:`QueueWorker`."""

    context: StackContext
    worker: WorkerConfig
    ecs: EcsConfig
    """``architecture``, ``execEnabled`` and ``applicationSecrets`` are used."""
    cluster: ClusterRef
    image: Image
    placement: Placement
    """The private subnets and the worker security group."""
    queue: QueueRef
    """The work queue it consumes."""
    database: DatabaseConnection
    failure_retention_days: int
    """``queue.dlqRetentionDays``: how long the sampler's failed samples are kept."""
    after: Sequence[pulumi.Resource] = ()
    """What must succeed before the service rolls to a new revision: the release's migration."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Settings of the parts the stack turns on (the uploads bucket, the e-mail identity, the cache's ``CACHE_*``)."""


class QueueWorker(pulumi.ComponentResource):
    """The worker tasks and their 0 <-> N scaling (module docstring).

    Creates the task role ``<name>-worker-task`` (receive, delete, change visibility and get
    attributes on the work queue only, the database's grants (``rds-db:connect`` as
    ``flowbuilder_app``); ECS Exec's channels while ``ecs.execEnabled``), the task
    definition ``<name>-worker`` (``worker.cpu``/``worker.memory``, ``stopTimeout``
    ``worker.stopTimeoutSeconds`` (120, the Spot warning), logs in ``/flowbuilder/<stack>/ecs/worker``),
    the service ``<name>-worker`` at 0 tasks on the stack's Spot / on-demand weights (rolled only
    after ``after``, the migration, succeeded), the
    :class:`BacklogSampler`, and the scaling target, policies and the two alarms that drive them.

    While ``flowbuilder:images`` has no worker digest scaling is capped at 0.

    ``watch``: CPU above 80 % for 10 minutes (the sampler's own alarms are on ``sampler.watch``);
    CPU, memory, (with Container Insights) running
    tasks, and the sampler's backlog: without Container Insights ECS publishes no task count, and
    the backlog is the closest signal of whether the worker keeps up.
    """

    service_name: str
    task_role_name: pulumi.Output[str]
    """The worker's role: an application principal other components may grant access to."""
    image_uri: pulumi.Output[str]
    sampler: BacklogSampler
    watch: Watch

    def __init__(self, name: str, args: QueueWorkerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:QueueWorker", name, None, opts)
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)
        context, worker, ecs = args.context, args.worker, args.ecs
        self.service_name = context.name("ecs-service", "worker")
        if not args.image.released:
            args.image.warn_unreleased(
                "the worker service's scaling stays capped at 0 until the release workflow records one", self
            )

        role = task_role(
            f"{name}-worker",
            context,
            "Worker tasks: consume the work queue",
            [
                statement(
                    [
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                        "sqs:GetQueueAttributes",
                    ],
                    [args.queue.arn],
                    sid="ConsumeWork",
                ),
                *args.database.grants,
            ],
            self._child,
            exec_log_group=args.cluster.exec_log_group if ecs.exec_enabled else None,
        )
        task = fargate_task(
            f"{name}-worker",
            context=context,
            family=context.name("ecs-family", "worker"),
            log_name=f"/flowbuilder/{context.stack}/ecs/worker",
            spec=TaskSpec(
                container_name="worker",
                image=args.image,
                cpu=worker.cpu,
                memory=worker.memory,
                architecture=ecs.architecture,
                environment={**args.environment, **service_environment(context, args.queue, args.database)},
                secrets=service_secrets(args.database, ecs),
                exec_enabled=ecs.exec_enabled,
                # Fargate Spot's reclaim notice is 2 minutes; stopTimeout is how long SIGTERM lasts before SIGKILL.
                container={"stopTimeout": worker.stop_timeout_seconds},
            ),
            role=role,
            opts=self._child,
        )
        service = fargate_service(
            f"{name}-worker",
            service_name=self.service_name,
            cluster=args.cluster,
            task=task,
            placement=args.placement,
            exec_enabled=ecs.exec_enabled,
            opts=self._child,
            depends_on=list(args.after),
            desired_count=0,
            capacity_provider_strategies=[
                aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider=provider, weight=weight, base=0)
                for provider, weight in capacity_strategy(worker.on_demand_weight, worker.spot_weight)
            ],
        )
        self.sampler = BacklogSampler(
            name,
            BacklogSamplerArgs(
                context=context,
                queue=args.queue,
                cluster_name=args.cluster.name,
                service_name=self.service_name,
                service_arn=service.arn,
                sample_seconds=worker.backlog_sample_seconds,
                failure_retention_days=args.failure_retention_days,
            ),
            self._child,
        )
        target = scalable_target(
            f"{name}-worker",
            cluster=args.cluster,
            service_name=self.service_name,
            service=service,
            minimum=0,
            maximum=worker.max_count,
            released=args.image.released,
            opts=self._child,
        )
        self._scaling(context, worker, target)
        self.task_role_name = role.name
        self.image_uri = args.image.uri
        metrics = self.sampler.metrics
        self.watch = service_watch("worker", args.cluster, self.service_name, ecs.container_insights) + Watch(
            graphs=(
                Graph(
                    "Worker backlog (sampler)",
                    tuple(
                        Metric(metrics.namespace, metric, metrics.dimensions).line(label=metric)
                        for metric in ("QueueBacklog", "BacklogPerTask")
                    ),
                    stat="Maximum",
                ),
            ),
        )
        self.register_outputs(
            {"service_name": self.service_name, "task_role_name": self.task_role_name, "image_uri": self.image_uri}
        )

    def _scaling(self, context: StackContext, worker: WorkerConfig, target: aws.appautoscaling.Target) -> None:
        metrics = self.sampler.metrics
        dimensions = dict(metrics.dimensions)

        # Zero to one: target tracking multiplies the current count, so from 0 it never adds a task.
        wake = scaling_policy(
            f"{self._name}-worker-wake",
            target,
            self._child,
            policy_type="StepScaling",
            step_scaling_policy_configuration=aws.appautoscaling.PolicyStepScalingPolicyConfigurationArgs(
                adjustment_type="ExactCapacity",
                metric_aggregation_type="Maximum",
                cooldown=SCALE_OUT_COOLDOWN_SECONDS,
                step_adjustments=[
                    aws.appautoscaling.PolicyStepScalingPolicyConfigurationStepAdjustmentArgs(
                        metric_interval_lower_bound="0", scaling_adjustment=1
                    )
                ],
            ),
        )
        self._alarm(
            context,
            "worker-wake",
            "Messages wait and the worker has 0 tasks: start one",
            namespace=metrics.namespace,
            metric_name="BacklogWithNoTasks",
            dimensions=dimensions,
            statistic="Maximum",
            # Sub-minute period: a high-resolution alarm over the function's 1-second metrics.
            period=worker.backlog_sample_seconds,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            # No sample (the function failed) must not start or stop anything.
            treat_missing_data="notBreaching",
            alarm_actions=[wake.arn],
        )

        # One to many: scale-in is left to the scale-to-zero policy, because BacklogPerTask
        # reads 0 while every task still holds a message in flight.
        scaling_policy(
            f"{self._name}-worker-backlog",
            target,
            self._child,
            policy_type="TargetTrackingScaling",
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=worker.backlog_per_task,
                customized_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs(
                    namespace=metrics.namespace,
                    metric_name="BacklogPerTask",
                    dimensions=[
                        aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensionArgs(
                            name=key, value=value
                        )
                        for key, value in dimensions.items()
                    ],
                    statistic="Average",
                ),
                disable_scale_in=True,
                scale_out_cooldown=SCALE_OUT_COOLDOWN_SECONDS,
            ),
        )

        # Back to zero: only after the queue (visible + in flight) was empty in every sample
        # of scaleInAfterMinutes consecutive minutes while tasks were running.
        to_zero = scaling_policy(
            f"{self._name}-worker-scale-to-zero",
            target,
            self._child,
            policy_type="StepScaling",
            step_scaling_policy_configuration=aws.appautoscaling.PolicyStepScalingPolicyConfigurationArgs(
                adjustment_type="ExactCapacity",
                metric_aggregation_type="Minimum",
                cooldown=SCALE_OUT_COOLDOWN_SECONDS,
                step_adjustments=[
                    aws.appautoscaling.PolicyStepScalingPolicyConfigurationStepAdjustmentArgs(
                        metric_interval_lower_bound="0", scaling_adjustment=0
                    )
                ],
            ),
        )
        minutes = worker.scale_in_after_minutes
        self._alarm(
            context,
            "worker-scale-to-zero",
            f"Queue empty (visible + in flight) for {minutes} minutes with tasks running: stop them",
            namespace=metrics.namespace,
            metric_name="TasksWithNoBacklog",
            dimensions=dimensions,
            statistic="Minimum",
            period=60,
            evaluation_periods=minutes,
            datapoints_to_alarm=minutes,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            # A minute without samples is not proof of an empty queue.
            treat_missing_data="notBreaching",
            alarm_actions=[to_zero.arn],
        )

    def _alarm(self, context: StackContext, label: str, description: str, **settings: Any) -> None:
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-{label}",
            name=context.name("alarm", label),
            alarm_description=description,
            opts=self._child,
            **settings,
        )
