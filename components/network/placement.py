"""Where a task or function attaches to the VPC."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class Placement:
    """Subnets and one security group for a task's or function's network interfaces."""

    subnet_ids: pulumi.Input[list[str]]
    security_group_id: pulumi.Input[str]
    public_ip: bool = False
    """A public IP on each task: the only way out of public subnets without NAT (zero-scale)."""
