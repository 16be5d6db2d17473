"""The AWS provider every component uses: the stack's region and default tags."""

from __future__ import annotations

import pulumi_aws as aws

from stackconfig import StackConfig


def aws_provider(config: StackConfig) -> aws.Provider:
    """An explicit provider, so region and tags come from the validated config only."""
    return aws.Provider(
        f"{config.name_prefix}-aws",
        region=config.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=config.default_tags),
    )
