"""Stack configuration: the model, its defaults, and the loader."""

from .load import ConfigError, StackSecrets, load_stack_config
from .model import (
    CpuArchitecture,
    Environment,
    NatStrategy,
    StackConfig,
    Topology,
)
from .naming import physical_name

__all__ = [
    "ConfigError",
    "CpuArchitecture",
    "Environment",
    "NatStrategy",
    "StackConfig",
    "StackSecrets",
    "Topology",
    "load_stack_config",
    "physical_name",
]
