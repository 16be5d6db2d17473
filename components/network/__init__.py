"""The network: a new VPC in standard stacks, an adopted one in zero-scale."""

from .existing_vpc import ExistingVpc, ExistingVpcArgs
from .placement import Placement
from .security_groups import SecurityGroups
from .vpc import Networking, NetworkingArgs

__all__ = ["ExistingVpc", "ExistingVpcArgs", "Networking", "NetworkingArgs", "Placement", "SecurityGroups"]
