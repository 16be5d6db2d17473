"""Karpenter: the controller on the system nodes, one EC2NodeClass and the NodePools ``general`` and ``spot``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stackconfig.model import NodePoolConfig, NodePoolsConfig

from .platform import KARPENTER_NAMESPACE, SPOT_TAINT_KEY, SPOT_TAINT_VALUE, MeshContext, on_cluster, release

NODE_CLASS = "default"
NODE_VOLUME_GIB = 30
NODE_EXPIRY = "720h"
"""Nodes are replaced after 30 days, so every node runs a recent AMI and kubelet."""
CAPACITY_LABEL = "flowbuilder.io/capacity"
CONTROLLER_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}


@dataclass
class KarpenterArgs:
    """Inputs of :class:`Karpenter`: the mesh context and ``eks.nodePools``."""

    context: MeshContext
    pools: NodePoolsConfig


class Karpenter(pulumi.ComponentResource):
    """Karpenter and what it may launch.

    * the ``karpenter-crd`` and ``karpenter`` charts in ``kube-system`` (the CRDs as their own
      release, so chart upgrades update them too); two controller replicas on the system node
      group (the chart keeps them off Karpenter's own nodes), service account
      ``kube-system/karpenter`` (its AWS access is the base stack's Pod Identity association),
      the base stack's interruption queue for Spot interruptions and rebalance notices;
    * EC2NodeClass ``default``: the base stack's node role, subnets and security groups found by
      the ``karpenter.sh/discovery`` tag, AL2023 (arm64 from the pools' requirement), IMDSv2 with
      hop limit 1 (pods cannot borrow the node role), encrypted 50 GiB gp3 root volumes, the stack's
      tags on instances, volumes and launch templates;
    * NodePool ``general``: on-demand Graviton of ``eks.nodePools.general``'s families and sizes;
      ``spot``: Spot, tainted ``flowbuilder.io/capacity=spot:NoSchedule``, tried first (higher
      weight) by the services that tolerate it, which fall back to ``general`` when Spot has no
      capacity. Each: consolidation WhenEmptyOrUnderutilized after ``consolidateAfterSeconds``, a
      disruption budget of ``disruptionBudgetPercent`` of its nodes, CPU and memory limits,
      nodes expiring after 30 days.
    """

    def __init__(self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Karpenter", name, None, opts)
        self._name = name
        context = args.context
        cluster = context.cluster
        account_namespace, account_name = cluster.karpenter_service_account.split("/", 1)
        crds = release(context, self, "karpenter-crd", namespace=KARPENTER_NAMESPACE, values={})
        self.release = release(
            context,
            self,
            "karpenter",
            namespace=account_namespace,
            values={
                "settings": {
                    "clusterName": cluster.cluster_name,
                    "clusterEndpoint": cluster.endpoint,
                    # The chart reads `interruptionQueue`; the older `interruptionQueueName`
                    # is silently ignored and Spot nodes would die undrained.
                    "interruptionQueue": cluster.interruption_queue_name,
                },
                "serviceAccount": {"create": True, "name": account_name},
                "replicas": 2,
                "controller": {"resources": CONTROLLER_RESOURCES},
                # The system nodes carry the cluster's critical add-ons; the chart tolerates
                # CriticalAddonsOnly and keeps Karpenter off the nodes it launches itself.
                "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
            },
            depends_on=[crds],
        )
        self._node_class(context)
        self.node_pools = {
            "general": self._node_pool(context, "general", args.pools.general, "on-demand", taint=False),
            "spot": self._node_pool(context, "spot", args.pools.spot, "spot", taint=True),
        }
        self.register_outputs({"node_pools": list(self.node_pools)})

    def _node_class(self, context: MeshContext) -> None:
        cluster = context.cluster
        discovery = [{"tags": {"karpenter.sh/discovery": cluster.discovery_tag}}]
        self.node_class = k8s.apiextensions.CustomResource(
            f"{self._name}-node-class",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata={"name": NODE_CLASS},
            spec={
                "role": cluster.node_role_name,
                # The alias follows Amazon's AL2023 EKS AMI for the cluster's version;
                # a new AMI drifts the nodes, replaced within the pools' disruption budgets.
                "amiSelectorTerms": [{"alias": "al2023@latest"}],
                "subnetSelectorTerms": discovery,
                "securityGroupSelectorTerms": discovery,
                "metadataOptions": {
                    "httpEndpoint": "enabled",
                    "httpProtocolIPv6": "disabled",
                    "httpPutResponseHopLimit": 1,
                    "httpTokens": "required",
                },
                "blockDeviceMappings": [
                    {
                        "deviceName": "/dev/xvda",
                        "ebs": {
                            "volumeSize": f"{NODE_VOLUME_GIB}Gi",
                            "volumeType": "gp3",
                            "encrypted": True,
                            "deleteOnTermination": True,
                        },
                    }
                ],
                # Karpenter tags instances, volumes and launch templates itself; provider
                # default tags never reach what it launches.
                "tags": {**context.tags, "Name": f"{context.prefix}-karpenter-node"},
            },
            opts=on_cluster(context, self, [self.release]),
        )

    def _node_pool(
        self, context: MeshContext, label: str, pool: NodePoolConfig, capacity: str, *, taint: bool
    ) -> k8s.apiextensions.CustomResource:
        template: dict[str, Any] = {
            "metadata": {"labels": {CAPACITY_LABEL: capacity}},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": NODE_CLASS},
                "requirements": node_requirements(pool, capacity),
                "expireAfter": NODE_EXPIRY,
            },
        }
        if taint:
            template["spec"]["taints"] = [{"key": SPOT_TAINT_KEY, "value": SPOT_TAINT_VALUE, "effect": "NoSchedule"}]
        return k8s.apiextensions.CustomResource(
            f"{self._name}-pool-{label}",
            api_version="karpenter.sh/v1",
            kind="NodePool",
            metadata={"name": label},
            spec={
                "template": template,
                "disruption": {
                    "consolidationPolicy": "WhenEmptyOrUnderutilized",
                    "consolidateAfter": f"{pool.consolidate_after_seconds}s",
                    "budgets": [{"nodes": f"{pool.disruption_budget_percent}%"}],
                },
                "limits": {"cpu": str(pool.cpu_limit), "memory": f"{pool.memory_limit_gib}Gi"},
                "weight": pool.weight,
            },
            opts=on_cluster(context, self, [self.node_class]),
        )


def node_requirements(pool: NodePoolConfig, capacity: str) -> list[dict[str, Any]]:
    """What a pool's nodes must be: arm64 Linux, its capacity type, families and sizes."""
    return [
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [capacity]},
        {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": list(pool.instance_families)},
        {"key": "karpenter.k8s.aws/instance-size", "operator": "In", "values": list(pool.instance_sizes)},
    ]
