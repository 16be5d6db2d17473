"""What every component needs to know about the stack it belongs to, looked up and decided once.

:class:`StackContext` is the one stack-wide value each component's args carry besides its own
config section(s): the physical-name prefix, the stack, the account and partition ARNs point
into, the log retention, the default tags and the permissions boundary every role carries.
:class:`ApplicationAccess` is what a component that serves the applications (a bucket, an
e-mail identity, a cache) takes to grant them access: their role names and security groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from stackconfig import StackConfig, physical_name

PERMISSIONS_BOUNDARY = "flowbuilder-permissions-boundary"
"""The managed policy the bootstrap program creates in every account (path ``/``); every role of
this program carries it as its permissions boundary."""


@dataclass(frozen=True)
class AwsAccount:
    """The partition, region and account this stack's ARNs point into."""

    partition: str
    region: str
    account: str
    dns_suffix: str = "amazonaws.com"
    """The partition's DNS suffix (``amazonaws.com``, ``amazonaws.com.cn``)."""

    @classmethod
    def lookup(cls, provider: pulumi.ProviderResource, region: str) -> AwsAccount:
        """Ask AWS once, through the stack's provider, which account and partition it deploys to."""
        invoke = pulumi.InvokeOptions(provider=provider)
        partition = aws.get_partition(opts=invoke)
        return cls(
            partition=partition.partition,
            region=region,
            account=aws.get_caller_identity(opts=invoke).account_id,
            dns_suffix=partition.dns_suffix,
        )

    def arn(self, service: str, resource: str) -> str:
        """``arn:<partition>:<service>:<region>:<account>:<resource>``."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    @property
    def root(self) -> str:
        """``arn:<partition>:iam::<account>:root``: the account itself as a principal."""
        return f"arn:{self.partition}:iam::{self.account}:root"


@dataclass(frozen=True)
class KeyRef:
    """A KMS key as its users name it: the ARN (``kms_key_id`` arguments, IAM grants) and the key id."""

    arn: pulumi.Input[str]
    id: pulumi.Input[str]


def permissions_boundary_arn(partition: str, account: pulumi.Input[str]) -> pulumi.Output[str]:
    """``arn:<partition>:iam::<account>:policy/flowbuilder-permissions-boundary``."""
    return pulumi.Output.concat(f"arn:{partition}:iam::", account, f":policy/{PERMISSIONS_BOUNDARY}")


@dataclass(frozen=True)
class StackContext:
    """The stack-wide values every component takes, beside its own settings."""

    prefix: str
    """Physical-name prefix and component name: ``<project>-<stack>``."""
    stack: str
    account: AwsAccount
    log_retention_days: int
    """Retention of every log group the stack declares."""
    stack_key: KeyRef
    """The stack's customer-managed key (:class:`~components.stack_key.StackKey`): log groups,
    repositories, secrets, topics, Lambda environments, schedules and the database encrypt with it."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """The provider's default tags, for the few places default tags do not reach (launch templates)."""

    @classmethod
    def of(cls, config: StackConfig, account: AwsAccount, stack_key: KeyRef) -> StackContext:
        return cls(
            prefix=config.name_prefix,
            stack=config.stack,
            account=account,
            log_retention_days=config.log_retention_days,
            stack_key=stack_key,
            tags=dict(config.default_tags),
        )

    @property
    def region(self) -> str:
        return self.account.region

    @property
    def permissions_boundary_arn(self) -> pulumi.Output[str]:
        """The boundary every role of the stack carries (``iam.iam_role`` attaches it)."""
        return permissions_boundary_arn(self.account.partition, self.account.account)

    def name(self, kind: str, suffix: str) -> str:
        """``<prefix>-<suffix>``, checked against the name-length reservation of ``kind``."""
        return physical_name(self.prefix, kind, suffix)


@dataclass(frozen=True)
class ApplicationAccess:
    """The application principals, for a component that grants them access to what it owns.

    Such a component attaches its own inline policy to each role named here and admits these
    security groups; it never edits the components that own the roles and groups.
    """

    role_names: Sequence[pulumi.Input[str]]
    """API task, worker task and scheduler function roles (standard); the zero-scale API
    function, worker task and scheduler function roles (zero-scale)."""
    security_group_ids: Sequence[pulumi.Input[str]]
    """The groups the application's tasks and functions run in (none for zero-scale's Lambdas)."""
