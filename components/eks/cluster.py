"""EksCluster: the EKS control plane, its security groups, access entries, system nodes and add-ons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from stackconfig.model import EksConfig

from ..constants import HTTPS_PORT, POSTGRES_PORT
from ..context import StackContext
from ..iam import role_policy, service_role, statement
from ..logs import log_group
from .addons import ClusterAddons
from .identities import PodIdentity, ebs_csi_identity, external_secrets_identity
from .names import (
    CLUSTER_SUFFIX,
    DEPLOY_ROLE,
    DISCOVERY_TAG,
    PREVIEW_ROLE,
    access_policy_arn,
    owned_tag,
)
from .nodes import SystemNodes, system_nodes

ISTIOD_XDS_PORT = 15012
ISTIOD_WEBHOOK_PORT = 15017
NODE_PORTS_FROM_CONTROL_PLANE: tuple[tuple[int, int, str], ...] = (
    (HTTPS_PORT, HTTPS_PORT, "Webhooks and aggregated APIs served on 443"),
    (10250, 10251, "Kubelet, and the metrics server (10251) behind the metrics API"),
    (ISTIOD_WEBHOOK_PORT, ISTIOD_WEBHOOK_PORT, "Istio sidecar-injection and validation webhooks (istiod)"),
    (ISTIOD_XDS_PORT, ISTIOD_XDS_PORT, "istiod xDS and certificate signing"),
)
"""Without 15017 the API server cannot call istiod's webhook and pods start without sidecars."""


@dataclass
class EksClusterArgs:
    """Inputs of :class:`EksCluster`."""

    context: StackContext
    eks: EksConfig
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[list[str]]
    deletion_protection: bool
    """Prod: the cluster cannot be deleted until this is turned off."""
    database_security_group_id: pulumi.Input[str] | None = None
    """The database's group, which admits the nodes on PostgreSQL's port (the mesh's services connect)."""
    secret_arns: Sequence[pulumi.Input[str]] = field(default_factory=list)
    """The secrets External Secrets may read for the mesh's services (the database connection secret)."""


class EksCluster(pulumi.ComponentResource):
    """The EKS cluster ``<prefix>-eks`` and what it needs before anything runs inside it.

    Creates:

    * the control plane at ``eks.kubernetesVersion`` (default 1.35), upgrade policy STANDARD (no
      paid extended support), authentication mode API, Kubernetes secrets envelope-encrypted with
      its own rotating KMS key, a private endpoint plus a public one only for
      ``eks.publicAccessCidrs`` (default none), deletion protection in prod;
    * control-plane logs ``eks.controlPlaneLogTypes`` (staging api, audit, authenticator; prod all
      five) into ``/aws/eks/<cluster>/cluster``, declared first so it is kept ``logRetentionDays``;
    * access entries: ``flowbuilder-deploy-<stack>`` and each of ``eks.adminRoleArns`` cluster
      admin, ``flowbuilder-preview`` view (AmazonEKSViewPolicy);
    * security groups: control plane <-> nodes on 443, 10250-10251, 15017 and 15012, node to node
      freely; the node group carries ``karpenter.sh/discovery=<cluster>`` for Karpenter's nodes;
      the database's group admits the nodes on 5432;
    * the system node group (:mod:`.nodes`) and the managed add-ons at the versions pinned for the
      Kubernetes version (:mod:`.addons`);
    * Pod Identity roles for the EBS CSI controller and External Secrets (:mod:`.identities`).
    """

    resource: aws.eks.Cluster
    """The control plane itself, for the Karpenter component's access entry and Pod Identity trust."""
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    certificate_authority: pulumi.Output[str]
    kubernetes_version: pulumi.Output[str]
    control_plane_security_group_id: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    system: SystemNodes
    external_secrets: PodIdentity

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:EksCluster", name, None, opts)
        self._name, self._context, self._eks = name, args.context, args.eks
        self.physical_name = cluster_physical_name(args.context)
        self._security_groups(args.vpc_id)
        if args.database_security_group_id is not None:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-database-from-eks-nodes-in",
                security_group_id=args.database_security_group_id,
                description="PostgreSQL from the EKS nodes (the mesh's services)",
                ip_protocol="tcp",
                from_port=POSTGRES_PORT,
                to_port=POSTGRES_PORT,
                referenced_security_group_id=self._node_sg.id,
                opts=self._child(),
            )
        cluster = self._control_plane(args)
        self.resource = cluster
        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.endpoint = cluster.endpoint
        self.certificate_authority = cluster.certificate_authority.data
        self.kubernetes_version = cluster.version
        self._access_entries(cluster)

        addons = ClusterAddons(name, self._context, cluster, args.eks.kubernetes_version, self)
        self.system = system_nodes(
            name,
            self._context,
            args.eks.system_nodes,
            cluster=cluster,
            subnet_ids=args.private_subnet_ids,
            security_group_id=self._node_sg.id,
            # Nodes join only once pod networking, kube-proxy and the Pod Identity agent exist.
            depends_on=addons.before_nodes,
            parent=self,
        )
        ebs = ebs_csi_identity(name, self._context, cluster, self)
        addons.after_nodes(self.system.group, ebs)
        self.external_secrets = external_secrets_identity(name, self._context, cluster, args.secret_arns, self)
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "kubernetes_version": self.kubernetes_version,
                "node_security_group_id": self.node_security_group_id,
                "system_node_group": self.system.group.node_group_name,
            }
        )

    def _child(self, **options: object) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)

    def _security_groups(self, vpc_id: pulumi.Input[str]) -> None:
        cluster = self.physical_name
        # Auto-named from a prefix: a changed description replaces a group, and the new one must
        # not collide with the old one's name while both exist.
        control_plane = aws.ec2.SecurityGroup(
            f"{self._name}-eks-cluster-sg",
            name_prefix=f"{cluster}-api-",
            description="EKS control plane: HTTPS from the nodes and the CI runner",
            vpc_id=vpc_id,
            tags={"Name": f"{cluster}-api"},
            opts=self._child(),
        )
        self._node_sg = aws.ec2.SecurityGroup(
            f"{self._name}-eks-nodes-sg",
            name_prefix=f"{cluster}-nodes-",
            description="EKS nodes: control-plane webhooks and kubelet, node to node",
            vpc_id=vpc_id,
            # Karpenter launches its nodes into the groups carrying the discovery tag; the
            # in-tree load-balancer controller opens NLB traffic on the one group per node
            # carrying the cluster tag.
            tags={"Name": f"{cluster}-nodes", DISCOVERY_TAG: cluster, **owned_tag(cluster)},
            opts=self._child(),
        )
        self.control_plane_security_group_id = control_plane.id
        self.node_security_group_id = self._node_sg.id
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-eks-api-from-nodes-in",
            security_group_id=control_plane.id,
            description="Kubernetes API from the nodes",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            referenced_security_group_id=self._node_sg.id,
            opts=self._child(),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-eks-api-to-nodes-out",
            security_group_id=control_plane.id,
            description="Webhooks, kubelet and aggregated APIs on the nodes",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=ISTIOD_WEBHOOK_PORT,
            referenced_security_group_id=self._node_sg.id,
            opts=self._child(),
        )
        for from_port, to_port, description in NODE_PORTS_FROM_CONTROL_PLANE:
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-eks-nodes-from-api-{from_port}-in",
                security_group_id=self._node_sg.id,
                description=description,
                ip_protocol="tcp",
                from_port=from_port,
                to_port=to_port,
                referenced_security_group_id=control_plane.id,
                opts=self._child(),
            )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-eks-nodes-from-nodes-in",
            security_group_id=self._node_sg.id,
            description="Node to node and pod to pod (NetworkPolicy narrows pod traffic)",
            ip_protocol="-1",
            referenced_security_group_id=self._node_sg.id,
            opts=self._child(),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-eks-nodes-out",
            security_group_id=self._node_sg.id,
            description="Image registries, AWS APIs, the database and other nodes",
            ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0",
            opts=self._child(),
        )

    def _control_plane(self, args: EksClusterArgs) -> aws.eks.Cluster:
        eks, cluster = self._eks, self.physical_name
        key = aws.kms.Key(
            f"{self._name}-eks-secrets",
            description=f"Envelope encryption of Kubernetes secrets in {cluster}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=self._child(),
        )
        aws.kms.Alias(
            f"{self._name}-eks-secrets", name=f"alias/{cluster}-secrets", target_key_id=key.key_id, opts=self._child()
        )
        role = service_role(
            f"{self._name}-eks-cluster",
            self._context,
            "eks.amazonaws.com",
            f"EKS control plane of {cluster}",
            self._child(),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{self._name}-eks-cluster-AmazonEKSClusterPolicy",
            role=role.name,
            policy_arn=f"arn:{self._context.account.partition}:iam::aws:policy/AmazonEKSClusterPolicy",
            opts=self._child(),
        )
        key_use = role_policy(
            f"{self._name}-eks-cluster-kms",
            role,
            [statement(["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"], [key.arn])],
            self._child(),
        )
        # EKS creates this group on its first log line with no retention; owning it first keeps
        # the audit log from growing forever.
        logs = log_group(f"{self._name}-eks-control-plane", f"/aws/eks/{cluster}/cluster", self._context, self._child())
        public = bool(eks.public_access_cidrs)
        return aws.eks.Cluster(
            f"{self._name}-eks",
            name=cluster,
            version=eks.kubernetes_version,
            role_arn=role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.private_subnet_ids,
                security_group_ids=[self.control_plane_security_group_id],
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(eks.public_access_cidrs) if public else None,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                # The deploy role gets its access entry below like every other principal; a
                # creator entry would make a second one for it and fail.
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            # The API default is EXTENDED: $0.60 instead of $0.10 per hour once the version
            # leaves standard support. STANDARD upgrades the cluster instead.
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            enabled_cluster_log_types=[kind.value for kind in eks.control_plane_log_types],
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn),
                resources=["secrets"],
            ),
            # vpc-cni, kube-proxy and coredns come as managed add-ons, so there is one copy of
            # each and its version is visible.
            bootstrap_self_managed_addons=False,
            deletion_protection=args.deletion_protection,
            tags={"Name": cluster},
            opts=self._child(depends_on=[logs, key_use, attachment]),
        )

    def _access_entries(self, cluster: aws.eks.Cluster) -> None:
        account = self._context.account
        principals = [
            (
                "deploy",
                f"arn:{account.partition}:iam::{account.account}:role/{DEPLOY_ROLE.format(stack=self._context.stack)}",
                "AmazonEKSClusterAdminPolicy",
            ),
            ("preview", f"arn:{account.partition}:iam::{account.account}:role/{PREVIEW_ROLE}", "AmazonEKSViewPolicy"),
            *[
                (f"admin-{index}", arn, "AmazonEKSClusterAdminPolicy")
                for index, arn in enumerate(self._eks.admin_role_arns)
            ],
        ]
        for label, principal, policy in principals:
            entry = aws.eks.AccessEntry(
                f"{self._name}-eks-{label}",
                cluster_name=cluster.name,
                principal_arn=principal,
                type="STANDARD",
                opts=self._child(),
            )
            aws.eks.AccessPolicyAssociation(
                f"{self._name}-eks-{label}",
                cluster_name=cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=access_policy_arn(account.partition, policy),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=self._child(),
            )


def cluster_physical_name(context: StackContext) -> str:
    """``<prefix>-eks``: known before anything is declared, so the network can tag subnets for it."""
    return context.name("eks-cluster", CLUSTER_SUFFIX)
