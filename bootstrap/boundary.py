"""PermissionsBoundary: the managed policy every role of the main program carries."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .account import Account
from .names import BOUNDARY_POLICY
from .policies import StateLocation, boundary_policy, dumps


@dataclass
class PermissionsBoundaryArgs:
    """Inputs of :class:`PermissionsBoundary`."""

    account: Account
    state: pulumi.Output[StateLocation] | None
    """The self-managed backend's bucket and keys, which no role of the program may touch."""


class PermissionsBoundary(pulumi.ComponentResource):
    """``flowbuilder-permissions-boundary`` (path ``/``), the ceiling of the main program's roles.

    Creates ``<name>-boundary``: allows the services the program's roles call, IAM only to pass
    roles and manage instance profiles; denies creating or changing identities and policies,
    removing a boundary, changing this policy or the bootstrap's roles and provider, leaving the
    organization, stopping CloudTrail, Config, GuardDuty, Security Hub or Access Analyzer, role
    chaining, the state bucket and its keys, and any resource tagged with another stack than the
    role's own ``stack`` tag.
    """

    arn: pulumi.Output[str]

    def __init__(self, name: str, args: PermissionsBoundaryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:PermissionsBoundary", name, None, opts)
        account = args.account
        arn = account.iam_arn(f"policy/{BOUNDARY_POLICY}")

        def render(state: StateLocation | None) -> str:
            return dumps(
                boundary_policy(
                    account.everywhere, boundary_arn=arn, state=state, github_provider_arn=account.github_provider_arn
                )
            )

        policy = aws.iam.Policy(
            f"{name}-boundary",
            name=BOUNDARY_POLICY,
            path="/",
            description="Ceiling of every role the Flow Builder program creates (attached as its permissions boundary)",
            policy=args.state.apply(render) if args.state is not None else render(None),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = policy.arn
        self.register_outputs({"arn": self.arn})
