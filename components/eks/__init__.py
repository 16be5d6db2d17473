"""The EKS cluster's AWS side: control plane, system nodes, add-ons, Karpenter, Pod Identity, CI runner.

What runs inside the cluster (Karpenter's controller and NodePools, Istio, monitoring, the
services) is the ``mesh/`` project's, which reads the ``eks`` stack output of this program.
"""

from .ci_runner import CiRunner, CiRunnerArgs
from .cluster import EksCluster, EksClusterArgs, cluster_physical_name
from .karpenter import Karpenter, KarpenterArgs
from .names import (
    DISCOVERY_TAG,
    EXTERNAL_SECRETS_SERVICE_ACCOUNT,
    KARPENTER_SERVICE_ACCOUNT,
    private_subnet_tags,
    service_account,
)

__all__ = [
    "DISCOVERY_TAG",
    "EXTERNAL_SECRETS_SERVICE_ACCOUNT",
    "KARPENTER_SERVICE_ACCOUNT",
    "CiRunner",
    "CiRunnerArgs",
    "EksCluster",
    "EksClusterArgs",
    "Karpenter",
    "KarpenterArgs",
    "cluster_physical_name",
    "private_subnet_tags",
    "service_account",
]
