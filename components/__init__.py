"""The Flow Builder components: one ``pulumi.ComponentResource`` per module."""

from .container_registry import ContainerRegistry, ContainerRegistryArgs
from .networking import Networking, NetworkingArgs
from .provider import aws_provider
from .work_queue import WorkQueue, WorkQueueArgs

__all__ = [
    "ContainerRegistry",
    "ContainerRegistryArgs",
    "Networking",
    "NetworkingArgs",
    "WorkQueue",
    "WorkQueueArgs",
    "aws_provider",
]
