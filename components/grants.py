"""ApplicationGrant: what a component serving the applications lets their roles do, as one inline
policy per role.

A bucket or an e-mail identity exists before the services that use it (their containers are
told its name), while the services' roles exist only once the services do. So the serving
component publishes its grant as plain statements, and the stack program attaches them with an
:class:`ApplicationGrant` parented to that component once the roles exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from .context import ApplicationAccess
from .iam import policy_document


@dataclass
class ApplicationGrantArgs:
    """Inputs of :class:`ApplicationGrant`."""

    access: ApplicationAccess
    """The roles to grant to (their security groups are not used)."""
    statements: list[dict[str, Any]]


class ApplicationGrant(pulumi.ComponentResource):
    """``<name>-<n>``: an inline policy made of ``statements`` on the n-th role of ``access``
    (n from 0, in the order the roles are listed)."""

    policy_names: list[pulumi.Output[str]]

    def __init__(self, name: str, args: ApplicationGrantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:ApplicationGrant", name, None, opts)
        document = policy_document(*args.statements)
        policies = [
            aws.iam.RolePolicy(f"{name}-{index}", role=role, policy=document, opts=pulumi.ResourceOptions(parent=self))
            for index, role in enumerate(args.access.role_names)
        ]
        self.policy_names = [policy.name for policy in policies]
        self.register_outputs({"policy_names": self.policy_names})
