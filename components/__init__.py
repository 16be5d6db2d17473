"""The Flow Builder components: one ``pulumi.ComponentResource`` per module."""

from .container_registry import ContainerRegistry, ContainerRegistryArgs
from .database import Database, DatabaseArgs
from .ecs_cluster import EcsCluster, EcsClusterArgs
from .eks_mesh import EksMesh, EksMeshArgs
from .monitoring import Monitoring, MonitoringArgs
from .networking import Networking, NetworkingArgs
from .provider import aws_provider
from .scheduler_lambda import SchedulerLambda, SchedulerLambdaArgs
from .serverless_api import ServerlessApi, ServerlessApiArgs
from .work_queue import WorkQueue, WorkQueueArgs
from .worker_pipe import WorkerPipe, WorkerPipeArgs

__all__ = [
    "ContainerRegistry",
    "ContainerRegistryArgs",
    "Database",
    "DatabaseArgs",
    "EcsCluster",
    "EcsClusterArgs",
    "EksMesh",
    "EksMeshArgs",
    "Monitoring",
    "MonitoringArgs",
    "Networking",
    "NetworkingArgs",
    "SchedulerLambda",
    "SchedulerLambdaArgs",
    "ServerlessApi",
    "ServerlessApiArgs",
    "WorkQueue",
    "WorkQueueArgs",
    "WorkerPipe",
    "WorkerPipeArgs",
    "aws_provider",
]
