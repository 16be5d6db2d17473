"""Stack configuration: the model, its defaults, the loader, and the strict stack-file reader."""

from .load import ConfigError, StackSecrets, load_stack_config
from .model import (
    CpuArchitecture,
    Environment,
    FargateSize,
    NatStrategy,
    StackConfig,
    StandardStackConfig,
    Topology,
    ZeroScaleStackConfig,
)
from .naming import physical_name
from .stackfile import Project, StackFile, StackFileError, read_project, read_stack_file

__all__ = [
    "ConfigError",
    "CpuArchitecture",
    "Environment",
    "FargateSize",
    "NatStrategy",
    "Project",
    "StackConfig",
    "StackFile",
    "StackFileError",
    "StackSecrets",
    "StandardStackConfig",
    "Topology",
    "ZeroScaleStackConfig",
    "load_stack_config",
    "physical_name",
    "read_project",
    "read_stack_file",
]
