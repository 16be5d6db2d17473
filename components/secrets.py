"""The one way the program declares a Secrets Manager secret."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def secret(name: str, *, description: str, opts: pulumi.ResourceOptions) -> aws.secretsmanager.Secret:
    """``<name>``: an empty secret; its value is written by a ``SecretVersion`` or by hand."""
    return aws.secretsmanager.Secret(name, description=description, opts=opts)
