"""IAM policy documents as plain data, so tests and preflight can read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws


def statement(
    actions: list[str],
    resources: list[pulumi.Input[str]] | str,
    *,
    sid: str | None = None,
    effect: str = "Allow",
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One policy statement; ``resources`` may hold outputs (ARNs)."""
    entry: dict[str, Any] = {"Effect": effect, "Action": actions, "Resource": resources}
    if sid:
        entry["Sid"] = sid
    if condition:
        entry["Condition"] = condition
    return entry


def policy_document(*statements: dict[str, Any]) -> pulumi.Output[str]:
    """A JSON policy document, resolving any outputs inside the statements."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def service_trust_policy(service: str, source_account: pulumi.Input[str] | None = None) -> pulumi.Output[str]:
    """Trust policy letting one AWS service principal assume a role, scoped to our account when given."""
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account is not None:
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [trust]})


def web_identity_trust_policy(
    provider_arn: pulumi.Input[str], issuer: pulumi.Input[str], namespace: str, service_account: str
) -> pulumi.Output[str]:
    """IRSA trust policy: only ``namespace/service_account`` of the cluster whose OIDC ``issuer`` is given.

    ``issuer`` is the cluster's issuer URL (``https://oidc.eks...``); the condition keys use it without
    the scheme, as STS does. Both ``sub`` and ``aud`` are pinned, so neither another service account
    nor a token minted for another audience can assume the role.
    """

    def document(args: list[str]) -> dict[str, Any]:
        arn, url = args
        host = url.removeprefix("https://")
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                            f"{host}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        }

    return pulumi.Output.json_dumps(pulumi.Output.all(provider_arn, issuer).apply(document))


@dataclass(frozen=True)
class AwsAccount:
    """The partition, region and account this stack's ARNs point into."""

    partition: str
    region: str
    account: str

    @classmethod
    def of(cls, parent: pulumi.Resource, region: str) -> AwsAccount:
        """Look up the caller's account and partition through ``parent``'s provider."""
        invoke = pulumi.InvokeOptions(parent=parent)
        return cls(
            partition=aws.get_partition(opts=invoke).partition,
            region=region,
            account=aws.get_caller_identity(opts=invoke).account_id,
        )

    def arn(self, service: str, resource: str) -> str:
        """``arn:<partition>:<service>:<region>:<account>:<resource>``."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"
