"""The cluster's managed add-ons, at the versions pinned for its Kubernetes version.

Three are DaemonSets that must exist before a node joins (pod networking, kube-proxy, the Pod
Identity agent that hands pods their credentials); two are Deployments that need a node to run
on and, for the EBS CSI controller, its Pod Identity role with its policy attached and associated
before the controller starts.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig.dated_tables import EKS_ADDONS

from ..context import StackContext
from .identities import PodIdentity

BEFORE_NODES = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
AFTER_NODES = ("coredns", "aws-ebs-csi-driver")
CONFIGURATION: dict[str, dict[str, Any]] = {
    # The VPC CNI enforces Kubernetes NetworkPolicy (the mesh's default deny) itself.
    "vpc-cni": {"enableNetworkPolicy": "true"},
}


class ClusterAddons:
    """Declares the add-ons of ``cluster`` as children of ``parent``, in the two phases around the nodes."""

    def __init__(
        self,
        name: str,
        context: StackContext,
        cluster: aws.eks.Cluster,
        kubernetes_version: str,
        parent: pulumi.Resource,
    ) -> None:
        self._name, self._context, self._cluster, self._parent = name, context, cluster, parent
        self._versions = EKS_ADDONS[kubernetes_version]
        self.before_nodes = [self._addon(addon, []) for addon in BEFORE_NODES]

    def after_nodes(self, node_group: aws.eks.NodeGroup, ebs_csi: PodIdentity) -> list[aws.eks.Addon]:
        return [
            self._addon("coredns", [node_group]),
            self._addon("aws-ebs-csi-driver", [node_group, *ebs_csi.resources]),
        ]

    def _addon(self, addon: str, depends_on: list[pulumi.Resource]) -> aws.eks.Addon:
        configuration = CONFIGURATION.get(addon)
        return aws.eks.Addon(
            f"{self._name}-eks-{addon}",
            cluster_name=self._cluster.name,
            addon_name=addon,
            addon_version=self._versions[addon],
            configuration_values=json.dumps(configuration) if configuration else None,
            # EKS-managed fields win over edits made in the cluster; the mesh project never
            # edits these objects.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self._parent, depends_on=depends_on),
        )
