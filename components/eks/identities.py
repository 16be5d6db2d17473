"""EKS Pod Identity: a role per workload that needs AWS, associated with exactly one service account.

Every role carries the permissions boundary (``iam.iam_role``) and trusts only the Pod Identity
service acting for this cluster in this account; the association says which service account
gets it. The mesh project therefore declares no IAM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from ..context import StackContext
from ..iam import iam_role, pod_identity_trust_policy, role_policy, statement
from .names import EBS_CSI_SERVICE_ACCOUNT, EXTERNAL_SECRETS_SERVICE_ACCOUNT, managed_policy_arn


@dataclass
class PodIdentity:
    """A workload's role, what grants it permissions, and its association."""

    role: aws.iam.Role
    association: aws.eks.PodIdentityAssociation
    grants: list[pulumi.Resource] = field(default_factory=list)
    """Managed-policy attachments and inline policies: what must exist before the workload runs."""

    @property
    def resources(self) -> list[pulumi.Resource]:
        """Everything a workload using this identity depends on."""
        return [self.role, *self.grants, self.association]


def pod_identity(
    name: str,
    context: StackContext,
    cluster: aws.eks.Cluster,
    service_account: tuple[str, str],
    description: str,
    parent: pulumi.Resource,
    *,
    managed: Sequence[str] = (),
    statements: list[dict[str, Any]] | None = None,
) -> PodIdentity:
    """``<name>``: a role for ``namespace/service_account`` of ``cluster``, with its grants and association."""
    child = pulumi.ResourceOptions(parent=parent)
    role = iam_role(
        name,
        boundary_arn=context.permissions_boundary_arn,
        assume_role_policy=pod_identity_trust_policy(context.account.account, cluster.arn),
        description=description,
        opts=child,
    )
    grants: list[pulumi.Resource] = [
        aws.iam.RolePolicyAttachment(
            f"{name}-{policy.rsplit('/', 1)[-1]}",
            role=role.name,
            policy_arn=managed_policy_arn(context.account.partition, policy),
            opts=child,
        )
        for policy in managed
    ]
    if statements:
        grants.append(role_policy(name, role, statements, child))
    namespace, account = service_account
    association = aws.eks.PodIdentityAssociation(
        name,
        cluster_name=cluster.name,
        namespace=namespace,
        service_account=account,
        role_arn=role.arn,
        opts=child,
    )
    return PodIdentity(role, association, grants)


def ebs_csi_identity(
    name: str, context: StackContext, cluster: aws.eks.Cluster, parent: pulumi.Resource
) -> PodIdentity:
    """The EBS CSI controller (``kube-system/ebs-csi-controller-sa``): AmazonEBSCSIDriverPolicy."""
    return pod_identity(
        f"{name}-eks-ebs-csi",
        context,
        cluster,
        EBS_CSI_SERVICE_ACCOUNT,
        "EBS CSI driver: creates and attaches persistent volumes",
        parent,
        managed=("service-role/AmazonEBSCSIDriverPolicy",),
    )


def external_secrets_identity(
    name: str,
    context: StackContext,
    cluster: aws.eks.Cluster,
    secret_arns: Sequence[pulumi.Input[str]],
    parent: pulumi.Resource,
) -> PodIdentity:
    """External Secrets (``external-secrets/external-secrets``): reads exactly ``secret_arns``, nothing else."""
    return pod_identity(
        f"{name}-eks-external-secrets",
        context,
        cluster,
        EXTERNAL_SECRETS_SERVICE_ACCOUNT,
        "External Secrets: copies the mesh services' secrets into Kubernetes",
        parent,
        statements=[
            statement(
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                list(secret_arns),
                sid="TheMeshServicesSecrets",
            ),
            # The stack's secrets are under the stack key.
            statement(["kms:Decrypt"], [context.stack_key.arn], sid="DecryptTheMeshServicesSecrets"),
        ]
        if secret_arns
        else None,
    )
