"""Fargate on ECS: the cluster, the one task-definition builder, the API service and the queue worker."""

from .api_service import ApiService, ApiServiceArgs
from .backlog_sampler import BACKLOG_METRICS, BACKLOG_NAMESPACE, BacklogMetrics, BacklogSampler, BacklogSamplerArgs
from .cluster import FARGATE, FARGATE_SPOT, ClusterRef, EcsCluster, EcsClusterArgs, capacity_strategy
from .queue_worker import QueueWorker, QueueWorkerArgs
from .task_definition import FargateTask, TaskSpec, fargate_task, task_role

__all__ = [
    "BACKLOG_METRICS",
    "BACKLOG_NAMESPACE",
    "FARGATE",
    "FARGATE_SPOT",
    "ApiService",
    "ApiServiceArgs",
    "BacklogMetrics",
    "BacklogSampler",
    "BacklogSamplerArgs",
    "ClusterRef",
    "EcsCluster",
    "EcsClusterArgs",
    "FargateTask",
    "QueueWorker",
    "QueueWorkerArgs",
    "TaskSpec",
    "capacity_strategy",
    "fargate_task",
    "task_role",
]
