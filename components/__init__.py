"""The Flow Builder components: one ``pulumi.ComponentResource`` per module."""

from .networking import Networking, NetworkingArgs
from .provider import aws_provider

__all__ = ["Networking", "NetworkingArgs", "aws_provider"]
