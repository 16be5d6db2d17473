"""The bootstrap's AWS provider and the account it points at (partition, account id, region)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .catalog import Scope
from .config import BootstrapConfig
from .names import BOOTSTRAP_PROJECT, GITHUB_OIDC_HOST


def aws_provider(config: BootstrapConfig) -> aws.Provider:
    """An explicit provider, so region and tags come from the validated config only."""
    return aws.Provider(
        f"{BOOTSTRAP_PROJECT}-aws",
        region=config.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=config.default_tags),
    )


@dataclass(frozen=True)
class Account:
    """Where the bootstrap's ARNs point: one account, its partition, the bootstrap's region."""

    partition: str
    account: str
    region: str

    @classmethod
    def of(cls, provider: aws.Provider, region: str) -> Account:
        invoke = pulumi.InvokeOptions(provider=provider)
        return cls(
            partition=aws.get_partition(opts=invoke).partition,
            account=aws.get_caller_identity(opts=invoke).account_id,
            region=region,
        )

    def iam_arn(self, resource: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:{resource}"

    @property
    def github_provider_arn(self) -> str:
        """The ARN IAM gives the account's GitHub identity provider (one per URL and account)."""
        return self.iam_arn(f"oidc-provider/{GITHUB_OIDC_HOST}")

    def scope(
        self, stack: str, region: str, hosted_zone_ids: tuple[str, ...] = (), zone_names: tuple[str, ...] = ()
    ) -> Scope:
        return Scope(self.partition, self.account, region, stack, hosted_zone_ids, zone_names)

    @property
    def everywhere(self) -> Scope:
        """Every stack in every region of the account: what the preview role reads and the boundary caps."""
        return Scope(self.partition, self.account, "*", "*", ("*",))
