"""IAM: policy documents as plain data (so tests and preflight can read them), and the one way
this program creates a role, always with the account's permissions boundary."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from .context import StackContext


def statement(
    actions: list[str],
    resources: list[pulumi.Input[str]] | pulumi.Output[list[str]] | str,
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


def pod_identity_trust_policy(account: pulumi.Input[str], cluster_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """EKS Pod Identity trust: the Pod Identity service, acting for ``cluster_arn`` in our account only.

    ``sts:TagSession`` is required: the agent tags each session with the pod's cluster, namespace
    and service account. Which service account gets the role is the association's business.
    """
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": {"aws:SourceAccount": account}, "ArnEquals": {"aws:SourceArn": cluster_arn}},
    }
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


def iam_role(
    name: str,
    *,
    boundary_arn: pulumi.Input[str],
    assume_role_policy: pulumi.Input[str],
    description: str,
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    """``<name>``: every role of the program is created here, so every role carries the permissions
    boundary (``flowbuilder-permissions-boundary``) that caps what its policies can ever grant."""
    return aws.iam.Role(
        name,
        assume_role_policy=assume_role_policy,
        description=description,
        permissions_boundary=boundary_arn,
        opts=opts,
    )


def service_role(
    name: str, context: StackContext, service: str, description: str, opts: pulumi.ResourceOptions
) -> aws.iam.Role:
    """``<name>``: a role only the AWS service principal ``service``, acting for this account, may assume."""
    return iam_role(
        name,
        boundary_arn=context.permissions_boundary_arn,
        assume_role_policy=service_trust_policy(service, context.account.account),
        description=description,
        opts=opts,
    )


def role_policy(
    name: str, role: aws.iam.Role, statements: list[dict[str, Any]], opts: pulumi.ResourceOptions
) -> aws.iam.RolePolicy:
    """``<name>``: an inline policy of ``role`` made of ``statements``."""
    return aws.iam.RolePolicy(name, role=role.id, policy=policy_document(*statements), opts=opts)
