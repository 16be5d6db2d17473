"""EcsCluster: the stack's Fargate cluster and its capacity providers (both topologies)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..context import StackContext
from ..logs import log_group

FARGATE = "FARGATE"
FARGATE_SPOT = "FARGATE_SPOT"


def capacity_strategy(on_demand_weight: int, spot_weight: int) -> list[tuple[str, int]]:
    """``(capacity provider, weight)`` pairs of a strategy, leaving out a provider whose weight is 0."""
    weights = [(FARGATE, on_demand_weight), (FARGATE_SPOT, spot_weight)]
    return [(provider, weight) for provider, weight in weights if weight > 0]


@dataclass(frozen=True)
class ClusterRef:
    """A cluster as the services and tasks on it name it."""

    name: str
    """The physical name, known before the cluster exists (scaling targets name it in their ids)."""
    arn: pulumi.Output[str]
    """Resolves once the capacity providers are attached, so whatever runs tasks on the cluster
    (a service, RunTask in a state machine) waits for them."""
    exec_log_group: str | None = None
    """The log group ECS Exec sessions are recorded in, while ``ecs.execEnabled``; None otherwise."""


@dataclass
class EcsClusterArgs:
    """Inputs of :class:`EcsCluster`."""

    context: StackContext
    capacity_providers: Sequence[str]
    """Attached providers: FARGATE and FARGATE_SPOT in standard, FARGATE_SPOT alone in zero-scale."""
    default_strategy: Sequence[tuple[str, int]]
    """``(provider, weight)`` for tasks that name no strategy of their own."""
    container_insights: bool
    """``ecs.containerInsights``."""
    exec_enabled: bool = False
    """``ecs.execEnabled``: record every ECS Exec session in an encrypted log group."""


class EcsCluster(pulumi.ComponentResource):
    """The cluster every Fargate task of the stack runs in.

    Creates the cluster ``<name>-cluster`` with Container Insights per ``ecs.containerInsights``
    (prod on; its performance log group declared first, with ``logRetentionDays``); while
    ``ecs.execEnabled`` (dev, staging) the log group ``/flowbuilder/<stack>/ecs/exec-sessions`` (stack key,
    ``logRetentionDays``) that every ECS Exec session's output goes to (``logging: OVERRIDE``,
    encryption required), otherwise session logging off as no session can start; and its capacity providers
    with the default strategy given (standard: ``worker.onDemandWeight`` / ``worker.spotWeight``,
    dev all Spot, staging and prod 3 Spot : 1 on-demand; zero-scale: FARGATE_SPOT alone).
    """

    ref: ClusterRef

    def __init__(self, name: str, args: EcsClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:EcsCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = args.context.name("ecs-cluster", "cluster")
        # With Container Insights on, ECS writes performance events to this group and
        # would create it without a retention; declared first, it keeps the stack's.
        insights_logs = (
            [
                log_group(
                    f"{name}-container-insights",
                    f"/aws/ecs/containerinsights/{cluster_name}/performance",
                    args.context,
                    child,
                )
            ]
            if args.container_insights
            else []
        )
        exec_log_name = f"/flowbuilder/{args.context.stack}/ecs/exec-sessions" if args.exec_enabled else None
        exec_logs = [log_group(f"{name}-exec-sessions", exec_log_name, args.context, child)] if exec_log_name else []
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=cluster_name,
            settings=[
                aws.ecs.ClusterSettingArgs(
                    name="containerInsights", value="enabled" if args.container_insights else "disabled"
                )
            ],
            # CloudTrail records who ran ExecuteCommand against which container; the session log
            # records what they typed and saw. The agent refuses to start a session it cannot log to
            # an encrypted group, so an unrecorded session is impossible.
            configuration=aws.ecs.ClusterConfigurationArgs(
                execute_command_configuration=(
                    aws.ecs.ClusterConfigurationExecuteCommandConfigurationArgs(
                        logging="OVERRIDE",
                        log_configuration=aws.ecs.ClusterConfigurationExecuteCommandConfigurationLogConfigurationArgs(
                            cloud_watch_log_group_name=exec_log_name,
                            cloud_watch_encryption_enabled=True,
                        ),
                    )
                    if exec_log_name
                    else aws.ecs.ClusterConfigurationExecuteCommandConfigurationArgs(logging="NONE")
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=insights_logs + exec_logs),
        )
        capacity = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity-providers",
            cluster_name=cluster.name,
            capacity_providers=list(args.capacity_providers),
            default_capacity_provider_strategies=[
                aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(
                    capacity_provider=provider, weight=weight, base=0
                )
                for provider, weight in args.default_strategy
            ],
            opts=child,
        )
        self.ref = ClusterRef(
            name=cluster_name,
            arn=pulumi.Output.all(cluster.arn, capacity.id).apply(lambda values: values[0]),
            exec_log_group=exec_log_name,
        )
        self.register_outputs({"name": cluster_name, "arn": self.ref.arn})
