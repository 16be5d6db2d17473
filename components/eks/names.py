"""Names the cluster's AWS side and the mesh project agree on."""

from __future__ import annotations

CLUSTER_SUFFIX = "eks"
DISCOVERY_TAG = "karpenter.sh/discovery"
"""Karpenter's EC2NodeClass selects subnets and security groups carrying ``karpenter.sh/discovery=<cluster>``."""
DEPLOY_ROLE = "flowbuilder-deploy-{stack}"
PREVIEW_ROLE = "flowbuilder-preview"
"""The CI roles the bootstrap creates (bootstrap/names.py); the jobs reach the cluster as these."""
KARPENTER_SERVICE_ACCOUNT = ("kube-system", "karpenter")
EXTERNAL_SECRETS_SERVICE_ACCOUNT = ("external-secrets", "external-secrets")
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
SYSTEM_NODE_LABELS = {"flowbuilder.io/node-pool": "system"}
CRITICAL_ADDONS_TAINT = {"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}
"""Only pods tolerating it (Karpenter, coredns, the EBS CSI controller) run on the system nodes."""


def owned_tag(cluster: str) -> dict[str, str]:
    """``kubernetes.io/cluster/<cluster>=owned``: what Karpenter's IAM conditions and the cloud provider match on."""
    return {f"kubernetes.io/cluster/{cluster}": "owned"}


def access_policy_arn(partition: str, policy: str) -> str:
    return f"arn:{partition}:eks::aws:cluster-access-policy/{policy}"


def managed_policy_arn(partition: str, policy: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{policy}"


def service_account(pair: tuple[str, str]) -> str:
    """``<namespace>/<name>``."""
    return "/".join(pair)


def private_subnet_tags(cluster: str) -> dict[str, str]:
    """Tags of the private subnets: Karpenter launches nodes there, internal load balancers live there."""
    return {DISCOVERY_TAG: cluster, "kubernetes.io/role/internal-elb": "1"}
