"""The Flow Builder components: one ``pulumi.ComponentResource`` each, with its typed args beside it.

Every component takes a :class:`~components.context.StackContext` and its own config section(s),
never the whole stack configuration, and exposes typed values (and a ``watch`` for Monitoring).
"""

from .backups import Backups, BackupsArgs
from .cache import Cache, CacheArgs
from .container_registry import ContainerRegistry, ContainerRegistryArgs
from .context import ApplicationAccess, AwsAccount, StackContext
from .database import Database, DatabaseArgs, DatabaseConnection, ExternalDatabase, ExternalDatabaseArgs
from .ecs import (
    ApiService,
    ApiServiceArgs,
    EcsCluster,
    EcsClusterArgs,
    QueueWorker,
    QueueWorkerArgs,
)
from .eks import CiRunner, CiRunnerArgs, EksCluster, EksClusterArgs, Karpenter, KarpenterArgs
from .email import Email, EmailArgs
from .front_door import FrontDoor, FrontDoorArgs, HttpApiDomain, HttpApiDomainArgs
from .images import images_to_push
from .monitoring import Monitoring, MonitoringArgs
from .network import ExistingVpc, ExistingVpcArgs, Networking, NetworkingArgs, Placement
from .provider import aws_provider
from .scheduler_lambda import SchedulerLambda, SchedulerLambdaArgs
from .serverless_api import ServerlessApi, ServerlessApiArgs
from .stack_key import StackKey, StackKeyArgs
from .uploads import Uploads, UploadsArgs
from .work_queue import WorkQueue, WorkQueueArgs
from .worker_pipe import WorkerPipe, WorkerPipeArgs

__all__ = [
    "ApiService",
    "ApiServiceArgs",
    "ApplicationAccess",
    "AwsAccount",
    "Backups",
    "BackupsArgs",
    "Cache",
    "CacheArgs",
    "ContainerRegistry",
    "ContainerRegistryArgs",
    "Database",
    "DatabaseArgs",
    "DatabaseConnection",
    "EcsCluster",
    "EcsClusterArgs",
    "CiRunner",
    "CiRunnerArgs",
    "EksCluster",
    "EksClusterArgs",
    "Karpenter",
    "KarpenterArgs",
    "Email",
    "EmailArgs",
    "ExistingVpc",
    "ExistingVpcArgs",
    "ExternalDatabase",
    "ExternalDatabaseArgs",
    "FrontDoor",
    "FrontDoorArgs",
    "HttpApiDomain",
    "HttpApiDomainArgs",
    "Monitoring",
    "MonitoringArgs",
    "Networking",
    "NetworkingArgs",
    "Placement",
    "QueueWorker",
    "QueueWorkerArgs",
    "SchedulerLambda",
    "SchedulerLambdaArgs",
    "ServerlessApi",
    "ServerlessApiArgs",
    "StackContext",
    "StackKey",
    "StackKeyArgs",
    "Uploads",
    "UploadsArgs",
    "WorkQueue",
    "WorkQueueArgs",
    "WorkerPipe",
    "WorkerPipeArgs",
    "aws_provider",
    "images_to_push",
]
