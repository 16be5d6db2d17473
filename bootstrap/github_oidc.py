"""GitHubOidc: the account's identity provider for GitHub Actions' OIDC tokens."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .names import GITHUB_OIDC_HOST, STS_AUDIENCE


@dataclass
class GitHubOidcArgs:
    """Inputs of :class:`GitHubOidc`."""

    create: bool
    """False when the account has the provider already (IAM holds one per URL)."""
    existing_arn: str
    """The ARN IAM gives that provider, used when ``create`` is False."""


class GitHubOidc(pulumi.ComponentResource):
    """The ``token.actions.githubusercontent.com`` provider, audience ``sts.amazonaws.com``.

    Creates ``<name>-github`` unless the account has one; no thumbprint is pinned (IAM trusts
    GitHub's certificate through its own root CA library). An existing provider must list the
    ``sts.amazonaws.com`` audience, which ``aws-actions/configure-aws-credentials`` requests.
    """

    provider_arn: pulumi.Output[str]

    def __init__(self, name: str, args: GitHubOidcArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:GitHubOidc", name, None, opts)
        if args.create:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_id_lists=[STS_AUDIENCE],
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.provider_arn = provider.arn
        else:
            self.provider_arn = pulumi.Output.from_input(args.existing_arn)
        self.register_outputs({"providerArn": self.provider_arn})
