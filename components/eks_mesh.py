"""EksMesh: an EKS cluster running the Istio mesh, Prometheus/Grafana and the mesh's services."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from stackconfig import Environment, StandardStackConfig, physical_name
from stackconfig.aws_limits import is_graviton, partition_of
from stackconfig.model import ServiceConfig

from .context import permissions_boundary_arn
from .iam import iam_role, policy_document, service_trust_policy, statement, web_identity_trust_policy

# Chart versions are pinned in code, not config: every stack runs what was
# reviewed, and promotion dev -> staging -> prod carries the same charts.
ISTIO_REPO = "https://istio-release.storage.googleapis.com/charts"
ISTIO_VERSION = "1.30.5"
"""base, istiod and gateway move together; Istio 1.30 supports Kubernetes 1.32 to 1.36."""
PROMETHEUS_REPO = "https://prometheus-community.github.io/helm-charts"
KUBE_PROMETHEUS_STACK_VERSION = "88.2.0"
EXTERNAL_SECRETS_REPO = "https://charts.external-secrets.io"
EXTERNAL_SECRETS_VERSION = "2.10.0"
"""Serves the ``external-secrets.io/v1`` API that the ClusterSecretStore uses."""
OPENTELEMETRY_REPO = "https://open-telemetry.github.io/opentelemetry-helm-charts"
OPENTELEMETRY_COLLECTOR_VERSION = "0.155.0"

APP_NAMESPACE = "mindflow"
MONITORING_NAMESPACE = "mindflow-monitoring"
SECRETS_NAMESPACE = "external-secrets-system"
ISTIO_NAMESPACE = "istio-system"
GATEWAY_NAMESPACE = "istio-ingress"
GATEWAY_RELEASE = "istio-ingressgateway"
GATEWAY_POD_LABELS = {"istio": "ingressgateway"}
"""The gateway chart labels its pods ``istio: <release name without "istio-">``."""
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
ISTIOD_POD_LABELS = {"app": "istiod"}
ESO_SERVICE_ACCOUNT = "external-secrets"
OTEL_SERVICE_ACCOUNT = "otel-collector"
OTEL_GRPC_PORT = 4317
GRAFANA_SECRET = "grafana-admin"
SECRET_STORE = "aws-secrets-manager"
STORAGE_CLASS = "gp3"

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator")
ISTIOD_XDS_PORT = 15012
ISTIOD_WEBHOOK_PORT = 15017
ENVOY_METRICS_PORT = 15090
MERGED_METRICS_PORT = 15020
"""The sidecar's merged application + Envoy metrics (Istio's prometheus merge)."""
NODE_PORTS_FROM_CONTROL_PLANE: tuple[tuple[int, int, str], ...] = (
    (443, 443, "Webhooks and aggregated APIs served on 443"),
    (10250, 10251, "Kubelet, and the metrics-server add-on (10251) behind the metrics API"),
    (ISTIOD_WEBHOOK_PORT, ISTIOD_WEBHOOK_PORT, "Istio sidecar-injection and validation webhooks (istiod)"),
    (ISTIOD_XDS_PORT, ISTIOD_XDS_PORT, "istiod xDS and certificate signing"),
)
"""Without 15017 the API server cannot call istiod's webhook and pods start without sidecars."""
NODE_VOLUME_GB = 50
INSTANCE_METADATA = "169.254.169.254/32"

# Mesh-wide client defaults (DestinationRule): a slow or failing pod is ejected
# for 30 s after 5 consecutive 5xx, at most half of a service's pods at once.
CONNECTION_POOL = {
    "tcp": {"maxConnections": 100, "connectTimeout": "5s"},
    "http": {"http1MaxPendingRequests": 100, "http2MaxRequests": 1000, "maxRetries": 3},
}
OUTLIER_DETECTION = {
    "consecutive5xxErrors": 5,
    "interval": "30s",
    "baseEjectionTime": "30s",
    "maxEjectionPercent": 50,
}
RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,503"
"""Failures where the request never reached application code, plus 503 (overloaded or draining pod)."""

SPOT_TAINT = {"key": "flowbuilder.io/capacity", "value": "spot", "effect": "NO_SCHEDULE"}
SPOT_LABEL = {"flowbuilder.io/capacity": "spot"}


@dataclass
class EksMeshArgs:
    """Inputs of :class:`EksMesh`: the stack config and Networking's VPC and private subnets."""

    config: StandardStackConfig
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[list[str]]
    stack_key_arn: pulumi.Input[str]
    """The stack key (``context.stack_key.arn``): the control-plane log group is encrypted with it,
    and External Secrets decrypts the stack's secrets with it."""


@dataclass(frozen=True)
class NodeGroupSummary:
    """What a cost estimate needs to know about one node group."""

    name: str
    instance_types: tuple[str, ...]
    capacity_type: str
    desired_size: int


class EksMesh(pulumi.ComponentResource):
    """An EKS cluster with the Istio mesh and the services listed in ``eks.services``.

    Created only where ``eks.enabled`` (staging and prod; never dev or zero-scale):

    * the control plane (``aws.eks.Cluster`` ``<prefix>-mesh``) at ``eks.kubernetesVersion``
      (default 1.35) with upgrade policy STANDARD (never paid extended support), API
      authentication with access entries (``eks.adminRoleArns`` get cluster-admin), control-plane
      logs ``api``, ``audit``, ``authenticator`` kept ``logRetentionDays``, Kubernetes secrets
      envelope-encrypted with a rotating KMS key, a private endpoint and a public one only for
      ``eks.publicAccessCidrs`` (default none), and an IAM OIDC provider for IRSA;
    * security groups: control plane <-> nodes on 443, 10250-10251, 15017 and 15012; nodes talk
      freely to each other (NetworkPolicy narrows pod traffic);
    * an on-demand managed node group in the private subnets: AL2023 (ARM64 for Graviton types),
      ``eks.nodeInstanceType`` x ``eks.nodeCount`` (staging 3 x t4g.medium, prod 6 x t4g.large),
      one node replaced at a time, IMDSv2 with hop limit 1 (pods cannot borrow the node's role),
      encrypted 50 GiB gp3 root volumes; with ``eks.spotNodeGroup`` a tainted Spot group of
      ``eks.spotNodeCount`` nodes over ``eks.spotInstanceTypes``;
    * managed add-ons vpc-cni (NetworkPolicy enforcement on, own IRSA role), kube-proxy, coredns,
      aws-ebs-csi-driver (own IRSA role) and metrics-server (the HPAs' CPU metrics);
    * namespaces ``mindflow`` (sidecar injection), ``mindflow-monitoring``,
      ``external-secrets-system``, ``istio-system`` and ``istio-ingress``; a default encrypted
      gp3 StorageClass;
    * Istio ``base``, ``istiod`` and the ``gateway`` (internal NLB) from Helm, pinned to
      :data:`ISTIO_VERSION`; STRICT mTLS in ``mindflow``; a default DestinationRule (connection
      limits, outlier detection); an Istio Gateway for services with a ``gatewayPath``;
    * kube-prometheus-stack (:data:`KUBE_PROMETHEUS_STACK_VERSION`) keeping
      ``eks.prometheusRetentionDays`` (15) days, on a ``eks.prometheusVolumeGb`` volume where
      set (prod 50 GB); Grafana's admin password generated and kept in the Secret
      ``mindflow-monitoring/grafana-admin``; a PodMonitor for the sidecars' Envoy metrics;
    * External Secrets Operator whose IRSA role reads only ``<project>/<stack>/*`` in Secrets
      Manager, and the ClusterSecretStore ``aws-secrets-manager`` usable from ``mindflow`` only;
    * with ``eks.tracing``: an OpenTelemetry collector exporting mesh traces to AWS X-Ray;
    * per service: ServiceAccount, Deployment (requests = limits, probes on ``healthPath``,
      non-root, read-only root filesystem, no privilege escalation, all capabilities dropped,
      seccomp RuntimeDefault, spread over zones), ClusterIP Service, VirtualService (timeout and
      retries), autoscaling/v2 HPA on the container's CPU, PodDisruptionBudget and an ingress
      NetworkPolicy; the namespace denies all traffic by default and allows DNS, istiod,
      mesh peers, and HTTPS/PostgreSQL leaving the cluster (never the instance metadata service).
    """

    cluster_name: pulumi.Output[str]
    cluster_endpoint: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    """Secret: uses ``aws eks get-token`` with the caller's AWS credentials."""
    node_groups: list[NodeGroupSummary]
    grafana_admin_secret: str
    """``<namespace>/<name>`` of the Secret holding Grafana's admin user and password."""

    def __init__(self, name: str, args: EksMeshArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:EksMesh", name, None, opts)
        self._name = name
        self._config = args.config
        self._eks = args.config.eks
        self._subnet_ids = args.private_subnet_ids
        self._stack_key_arn = args.stack_key_arn
        # The output form: a blocking lookup would stall the program on every run.
        self._account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self._partition, self._dns_suffix = partition_of(args.config.region)
        self._cluster_physical_name = physical_name(name, "eks-cluster", "mesh")
        self._attachments: dict[str, list[aws.iam.RolePolicyAttachment]] = {}

        self._security_groups(args.vpc_id)
        self._control_plane()
        before_nodes = [self._addon("vpc-cni", role=self._cni_role(), configuration={"enableNetworkPolicy": "true"})]
        before_nodes.append(self._addon("kube-proxy"))
        self._nodes(before_nodes)
        self._after_nodes = [
            self._addon("coredns", depends_on=self._node_group_resources),
            self._addon("aws-ebs-csi-driver", role=self._ebs_csi_role(), depends_on=self._node_group_resources),
            self._addon("metrics-server", depends_on=self._node_group_resources),
        ]
        self._kubernetes_provider()
        self._namespaces()
        self._mesh()
        self._observability()
        self._external_secrets()
        self._namespace_policies()
        for service in self._eks.services:
            self._workload(service)

        self.grafana_admin_secret = f"{MONITORING_NAMESPACE}/{GRAFANA_SECRET}"
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_endpoint": self.cluster_endpoint,
                "oidc_provider_arn": self.oidc_provider_arn,
                "kubeconfig": self.kubeconfig,
                "node_groups": [vars(group) for group in self.node_groups],
                "grafana_admin_secret": self.grafana_admin_secret,
            }
        )

    # -- helpers -------------------------------------------------------------
    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)

    def _on_cluster(self, depends_on: list[pulumi.Resource] | None = None, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._k8s, depends_on=depends_on or [], **options)

    def _managed_policy(self, name: str) -> str:
        return f"arn:{self._partition}:iam::aws:policy/{name}"

    def _role(
        self, label: str, description: str, trust: pulumi.Input[str], managed: tuple[str, ...] = ()
    ) -> aws.iam.Role:
        role = iam_role(
            f"{self._name}-{label}",
            boundary_arn=permissions_boundary_arn(self._partition, self._account),
            assume_role_policy=trust,
            description=description,
            opts=self._child(),
        )
        self._attachments[label] = [
            aws.iam.RolePolicyAttachment(
                f"{self._name}-{label}-{policy.rsplit('/', 1)[-1]}",
                role=role.name,
                policy_arn=self._managed_policy(policy),
                opts=self._child(),
            )
            for policy in managed
        ]
        return role

    def _irsa_role(
        self, label: str, namespace: str, service_account: str, description: str, managed: tuple[str, ...] = ()
    ) -> aws.iam.Role:
        trust = web_identity_trust_policy(self.oidc_provider_arn, self._issuer, namespace, service_account)
        return self._role(label, description, trust, managed)

    # -- control plane -------------------------------------------------------
    def _security_groups(self, vpc_id: pulumi.Input[str]) -> None:
        self._control_plane_sg = aws.ec2.SecurityGroup(
            f"{self._name}-eks-control-plane-sg",
            name=f"{self._name}-eks-control-plane",
            description="EKS control plane: HTTPS from the nodes",
            vpc_id=vpc_id,
            tags={"Name": f"{self._name}-eks-control-plane"},
            opts=self._child(),
        )
        self._node_sg = aws.ec2.SecurityGroup(
            f"{self._name}-eks-node-sg",
            name=f"{self._name}-eks-node",
            description="EKS nodes: control-plane webhooks and kubelet, node to node",
            vpc_id=vpc_id,
            # The in-tree load-balancer controller opens NLB traffic on the group
            # carrying this tag; exactly one group per node may carry it.
            tags={"Name": f"{self._name}-eks-node", f"kubernetes.io/cluster/{self._cluster_physical_name}": "owned"},
            opts=self._child(),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-eks-control-plane-from-nodes-in",
            security_group_id=self._control_plane_sg.id,
            description="Kubernetes API from the nodes",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            referenced_security_group_id=self._node_sg.id,
            opts=self._child(),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-eks-control-plane-to-nodes-out",
            security_group_id=self._control_plane_sg.id,
            description="Webhooks, kubelet and aggregated APIs on the nodes",
            ip_protocol="tcp",
            from_port=443,
            to_port=ISTIOD_WEBHOOK_PORT,
            referenced_security_group_id=self._node_sg.id,
            opts=self._child(),
        )
        self._webhook_rules = [
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-eks-node-from-control-plane-{from_port}-in",
                security_group_id=self._node_sg.id,
                description=description,
                ip_protocol="tcp",
                from_port=from_port,
                to_port=to_port,
                referenced_security_group_id=self._control_plane_sg.id,
                opts=self._child(),
            )
            for from_port, to_port, description in NODE_PORTS_FROM_CONTROL_PLANE
        ]
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-eks-node-from-nodes-in",
            security_group_id=self._node_sg.id,
            description="Node to node and pod to pod (NetworkPolicy narrows pod traffic)",
            ip_protocol="-1",
            referenced_security_group_id=self._node_sg.id,
            opts=self._child(),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-eks-node-out",
            security_group_id=self._node_sg.id,
            description="Image registries, AWS APIs, the database and other nodes",
            ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0",
            opts=self._child(),
        )

    def _control_plane(self) -> None:
        eks = self._eks
        cluster_name = self._cluster_physical_name
        key = aws.kms.Key(
            f"{self._name}-eks-secrets",
            description=f"Envelope encryption of Kubernetes secrets in {cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=self._child(),
        )
        aws.kms.Alias(
            f"{self._name}-eks-secrets",
            name=f"alias/{cluster_name}-secrets",
            target_key_id=key.key_id,
            opts=self._child(),
        )
        role = self._role(
            "eks-cluster",
            f"EKS control plane of {cluster_name}",
            service_trust_policy("eks.amazonaws.com"),
            ("AmazonEKSClusterPolicy",),
        )
        key_use = aws.iam.RolePolicy(
            f"{self._name}-eks-cluster-kms",
            role=role.id,
            policy=policy_document(
                statement(["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"], [key.arn])
            ),
            opts=self._child(),
        )
        # EKS creates this group on first log line with no retention; owning it
        # first keeps the audit log from growing forever.
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-eks-control-plane",
            name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=self._config.log_retention_days,
            kms_key_id=self._stack_key_arn,
            opts=self._child(),
        )
        public = bool(eks.public_access_cidrs)
        self._cluster = aws.eks.Cluster(
            f"{self._name}-eks",
            name=cluster_name,
            version=eks.kubernetes_version,
            role_arn=role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=self._subnet_ids,
                security_group_ids=[self._control_plane_sg.id],
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(eks.public_access_cidrs) if public else None,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                # The identity running `pulumi up` installs the charts below.
                bootstrap_cluster_creator_admin_permissions=True,
            ),
            # The API default is EXTENDED: $0.60 instead of $0.10 per hour once the
            # version leaves standard support. STANDARD upgrades the cluster instead.
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn),
                resources=["secrets"],
            ),
            # vpc-cni, kube-proxy and coredns come as managed add-ons below, so
            # there is one copy of each and its version is visible.
            bootstrap_self_managed_addons=False,
            deletion_protection=self._config.environment is Environment.PROD,
            tags={"Name": cluster_name},
            opts=self._child(depends_on=[log_group, key_use, *self._attachments["eks-cluster"]]),
        )
        self.cluster_name = self._cluster.name
        self.cluster_endpoint = self._cluster.endpoint
        self._issuer = self._cluster.identities.apply(lambda identities: identities[0].oidcs[0].issuer)
        provider = aws.iam.OpenIdConnectProvider(
            f"{self._name}-eks-oidc",
            url=self._issuer,
            client_id_lists=["sts.amazonaws.com"],
            opts=self._child(),
        )
        self.oidc_provider_arn = provider.arn
        for index, principal in enumerate(eks.admin_role_arns):
            entry = aws.eks.AccessEntry(
                f"{self._name}-eks-admin-{index}",
                cluster_name=self._cluster.name,
                principal_arn=principal,
                type="STANDARD",
                opts=self._child(),
            )
            aws.eks.AccessPolicyAssociation(
                f"{self._name}-eks-admin-{index}",
                cluster_name=self._cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=f"arn:{self._partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=self._child(),
            )

    # -- nodes and add-ons ---------------------------------------------------
    def _nodes(self, before_nodes: list[pulumi.Resource]) -> None:
        eks = self._eks
        role = self._role(
            "eks-node",
            f"EKS nodes of {self._cluster_physical_name}",
            service_trust_policy("ec2.amazonaws.com"),
            # Pull-only ECR access; SSM gives shell access to nodes without SSH keys.
            ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore"),
        )
        template = aws.ec2.LaunchTemplate(
            f"{self._name}-eks-node",
            description=f"Nodes of {self._cluster_physical_name}",
            vpc_security_group_ids=[self._node_sg.id],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # One hop: processes on the node reach IMDS, pods do not, so a pod
                # gets AWS access only through its own IRSA role.
                http_put_response_hop_limit=1,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=NODE_VOLUME_GB,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(
                    resource_type=kind, tags={"Name": f"{self._cluster_physical_name}-node"}
                )
                for kind in ("instance", "volume")
            ],
            update_default_version=True,
            opts=self._child(),
        )
        depends_on = [*before_nodes, *self._attachments["eks-node"]]
        groups = [
            ("general", [eks.node_instance_type], "ON_DEMAND", eks.node_count, eks.node_max_count, {}, []),
        ]
        if eks.spot_node_group:
            groups.append(
                (
                    "spot",
                    list(eks.spot_instance_types),
                    "SPOT",
                    eks.spot_node_count,
                    eks.spot_node_count,
                    SPOT_LABEL,
                    [SPOT_TAINT],
                )
            )
        self.node_groups, self._node_group_resources = [], []
        for label, types, capacity, size, max_size, labels, taints in groups:
            group_name = physical_name(self._name, "eks-nodegroup", label)
            self._node_group_resources.append(
                aws.eks.NodeGroup(
                    f"{self._name}-eks-{label}",
                    cluster_name=self._cluster.name,
                    node_group_name=group_name,
                    version=self._cluster.version,
                    node_role_arn=role.arn,
                    subnet_ids=self._subnet_ids,
                    ami_type="AL2023_ARM_64_STANDARD" if is_graviton(types[0]) else "AL2023_x86_64_STANDARD",
                    capacity_type=capacity,
                    instance_types=types,
                    scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                        desired_size=size, min_size=size, max_size=max_size
                    ),
                    # One node at a time: every service's PDB leaves a pod evictable (the
                    # config model checks it), and istiod and the gateway run two replicas.
                    update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
                    node_repair_config=aws.eks.NodeGroupNodeRepairConfigArgs(enabled=True),
                    launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                        id=template.id, version=template.latest_version.apply(str)
                    ),
                    labels=labels,
                    taints=[aws.eks.NodeGroupTaintArgs(**taint) for taint in taints],
                    tags={"Name": group_name},
                    opts=self._child(depends_on=depends_on),
                )
            )
            self.node_groups.append(NodeGroupSummary(group_name, tuple(types), capacity, size))

    def _addon(
        self,
        addon: str,
        *,
        role: aws.iam.Role | None = None,
        configuration: dict[str, Any] | None = None,
        depends_on: list[pulumi.Resource] | None = None,
    ) -> aws.eks.Addon:
        # The version is EKS's default for the cluster's Kubernetes version; a
        # cluster upgrade is followed by `aws eks update-addon` (docs/eks-mesh.md).
        return aws.eks.Addon(
            f"{self._name}-eks-{addon}",
            cluster_name=self._cluster.name,
            addon_name=addon,
            service_account_role_arn=role.arn if role else None,
            configuration_values=json.dumps(configuration) if configuration else None,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=self._child(depends_on=depends_on or []),
        )

    def _cni_role(self) -> aws.iam.Role:
        return self._irsa_role(
            "eks-vpc-cni",
            "kube-system",
            "aws-node",
            "VPC CNI: assigns pod IPs (instead of the node role)",
            ("AmazonEKS_CNI_Policy",),
        )

    def _ebs_csi_role(self) -> aws.iam.Role:
        return self._irsa_role(
            "eks-ebs-csi",
            "kube-system",
            "ebs-csi-controller-sa",
            "EBS CSI driver: creates and attaches persistent volumes",
            ("service-role/AmazonEBSCSIDriverPolicy",),
        )

    # -- Kubernetes ----------------------------------------------------------
    def _kubernetes_provider(self) -> None:
        cluster = self._cluster_physical_name
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster,
                    "cluster": {
                        "server": self._cluster.endpoint,
                        "certificate-authority-data": self._cluster.certificate_authority.data,
                    },
                }
            ],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
            "current-context": cluster,
            "users": [
                {
                    "name": cluster,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", cluster, "--region", self._config.region],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        }
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.json_dumps(kubeconfig))
        self._k8s = k8s.Provider(
            f"{self._name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=self._child(depends_on=self._node_group_resources),
        )

    def _namespaces(self) -> None:
        labels = {
            APP_NAMESPACE: {"istio-injection": "enabled"},
            MONITORING_NAMESPACE: {"istio-injection": "disabled"},
            SECRETS_NAMESPACE: {"istio-injection": "disabled"},
            ISTIO_NAMESPACE: {},
            GATEWAY_NAMESPACE: {},
        }
        self._ns = {
            namespace: k8s.core.v1.Namespace(
                f"{self._name}-ns-{namespace}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=namespace, labels={**extra, "app.kubernetes.io/part-of": "flowbuilder"}
                ),
                opts=self._on_cluster(),
            )
            for namespace, extra in labels.items()
        }
        self._storage_class = k8s.storage.v1.StorageClass(
            f"{self._name}-storage-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS, annotations={"storageclass.kubernetes.io/is-default-class": "true"}
            ),
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=self._on_cluster(depends_on=self._after_nodes),
        )

    def _release(
        self,
        label: str,
        *,
        chart: str,
        version: str,
        repo: str,
        namespace: str,
        values: dict[str, Any],
        depends_on: list[pulumi.Resource],
        timeout: int = 600,
    ) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
            f"{self._name}-{label}",
            name=label,
            chart=chart,
            version=version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo),
            namespace=self._ns[namespace].metadata.name,
            values=values,
            cleanup_on_fail=True,
            max_history=10,
            timeout=timeout,
            opts=self._on_cluster(depends_on=[*self._after_nodes, *depends_on]),
        )

    def _mesh(self) -> None:
        mesh_config: dict[str, Any] = {
            "accessLogFile": "/dev/stdout",
            "enablePrometheusMerge": True,
            # The app starts once its sidecar is ready, so its first calls do not fail.
            "defaultConfig": {"holdApplicationUntilProxyStarts": True},
        }
        if self._eks.tracing:
            mesh_config["extensionProviders"] = [
                {
                    "name": "otel",
                    "opentelemetry": {
                        "service": f"{OTEL_SERVICE_ACCOUNT}.{MONITORING_NAMESPACE}.svc.cluster.local",
                        "port": OTEL_GRPC_PORT,
                    },
                }
            ]
            mesh_config["defaultProviders"] = {"tracing": ["otel"]}
        self._istio_base = self._release(
            "istio-base",
            chart="base",
            version=ISTIO_VERSION,
            repo=ISTIO_REPO,
            namespace=ISTIO_NAMESPACE,
            values={},
            depends_on=[],
        )
        self._istiod = self._release(
            "istiod",
            chart="istiod",
            version=ISTIO_VERSION,
            repo=ISTIO_REPO,
            namespace=ISTIO_NAMESPACE,
            values={
                # Two replicas: istiod's own PDB would otherwise block every node drain.
                "autoscaleMin": 2,
                "autoscaleMax": 5,
                "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}},
                "meshConfig": mesh_config,
                "global": {
                    "proxy": {
                        "resources": {
                            "requests": {"cpu": "50m", "memory": "128Mi"},
                            "limits": {"cpu": "1", "memory": "512Mi"},
                        }
                    }
                },
            },
            # The webhook rules must exist before istiod registers its webhooks.
            depends_on=[self._istio_base, *self._webhook_rules],
        )
        self._gateway = self._release(
            GATEWAY_RELEASE,
            chart="gateway",
            version=ISTIO_VERSION,
            repo=ISTIO_REPO,
            namespace=GATEWAY_NAMESPACE,
            values={
                "autoscaling": {
                    "enabled": True,
                    "minReplicas": 2,
                    "maxReplicas": 5,
                    "targetCPUUtilizationPercentage": 80,
                },
                "podDisruptionBudget": {"minAvailable": 1},
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
                "service": {
                    "type": "LoadBalancer",
                    # Internal: reachable from the VPC only. TLS and public exposure
                    # belong in front of it (see docs/eks-mesh.md).
                    "annotations": {
                        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
                        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
                        # Named subnets: left to discovery, the controller may pick any
                        # subnet of an AZ, database subnets included.
                        "service.beta.kubernetes.io/aws-load-balancer-subnets": pulumi.Output.from_input(
                            self._subnet_ids
                        ).apply(",".join),
                    },
                },
            },
            # Gateway pods get their proxy from istiod's injection webhook.
            depends_on=[self._istiod],
        )
        istio_ready = [self._istiod]
        k8s.apiextensions.CustomResource(
            f"{self._name}-mtls-strict",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata={"name": "default", "namespace": APP_NAMESPACE},
            spec={"mtls": {"mode": "STRICT"}},
            opts=self._on_cluster(depends_on=[*istio_ready, self._ns[APP_NAMESPACE]]),
        )
        k8s.apiextensions.CustomResource(
            f"{self._name}-destination-default",
            api_version="networking.istio.io/v1",
            kind="DestinationRule",
            metadata={"name": "default", "namespace": APP_NAMESPACE},
            spec={
                "host": f"*.{APP_NAMESPACE}.svc.cluster.local",
                "trafficPolicy": {
                    "tls": {"mode": "ISTIO_MUTUAL"},
                    "connectionPool": CONNECTION_POOL,
                    "outlierDetection": OUTLIER_DETECTION,
                },
            },
            opts=self._on_cluster(depends_on=[*istio_ready, self._ns[APP_NAMESPACE]]),
        )
        exposed = sorted(
            (s for s in self._eks.services if s.gateway_path), key=lambda s: len(s.gateway_path or ""), reverse=True
        )
        if not exposed:
            return
        k8s.apiextensions.CustomResource(
            f"{self._name}-gateway",
            api_version="networking.istio.io/v1",
            kind="Gateway",
            metadata={"name": APP_NAMESPACE, "namespace": APP_NAMESPACE},
            spec={
                "selector": GATEWAY_POD_LABELS,
                "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
            },
            opts=self._on_cluster(depends_on=[*istio_ready, self._gateway, self._ns[APP_NAMESPACE]]),
        )
        # One VirtualService for all gateway routes, longest prefix first (first match wins).
        k8s.apiextensions.CustomResource(
            f"{self._name}-gateway-routes",
            api_version="networking.istio.io/v1",
            kind="VirtualService",
            metadata={"name": f"{APP_NAMESPACE}-gateway", "namespace": APP_NAMESPACE},
            spec={
                "hosts": ["*"],
                "gateways": [f"{APP_NAMESPACE}/{APP_NAMESPACE}"],
                "http": [
                    {"name": s.name, "match": [{"uri": {"prefix": s.gateway_path}}], **self._route(s)} for s in exposed
                ],
            },
            opts=self._on_cluster(depends_on=[*istio_ready, self._ns[APP_NAMESPACE]]),
        )

    @staticmethod
    def _route(service: ServiceConfig) -> dict[str, Any]:
        """Destination, timeout and retries of one service; each try gets an equal share of the timeout."""
        per_try = max(1, math.floor(service.timeout_seconds / (service.retries + 1)))
        retries: dict[str, Any] = {"attempts": service.retries}
        if service.retries:
            retries.update(perTryTimeout=f"{per_try}s", retryOn=RETRY_ON)
        return {
            "route": [
                {
                    "destination": {
                        "host": f"{service.name}.{APP_NAMESPACE}.svc.cluster.local",
                        "port": {"number": service.port},
                    }
                }
            ],
            "timeout": f"{service.timeout_seconds}s",
            "retries": retries,
        }

    def _observability(self) -> None:
        eks = self._eks
        password = random.RandomPassword(
            f"{self._name}-grafana-admin",
            length=32,
            special=False,
            opts=self._child(),
        )
        grafana_secret = k8s.core.v1.Secret(
            f"{self._name}-grafana-admin",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GRAFANA_SECRET, namespace=MONITORING_NAMESPACE),
            type="Opaque",
            string_data={"admin-user": "admin", "admin-password": pulumi.Output.secret(password.result)},
            opts=self._on_cluster(depends_on=[self._ns[MONITORING_NAMESPACE]]),
        )
        prometheus_spec: dict[str, Any] = {
            "retention": f"{eks.prometheus_retention_days}d",
            # Pick up every ServiceMonitor and PodMonitor, not only the chart's own.
            "serviceMonitorSelectorNilUsesHelmValues": False,
            "podMonitorSelectorNilUsesHelmValues": False,
            "resources": {"requests": {"cpu": "200m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        }
        if eks.prometheus_volume_gb:
            prometheus_spec["storageSpec"] = {
                "volumeClaimTemplate": {
                    "spec": {
                        "storageClassName": STORAGE_CLASS,
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": f"{eks.prometheus_volume_gb}Gi"}},
                    }
                }
            }
            # Prometheus stops writing on a full disk; cap by size a little below it.
            prometheus_spec["retentionSize"] = f"{math.floor(eks.prometheus_volume_gb * 0.9)}GB"
        self._prometheus = self._release(
            "kube-prometheus-stack",
            chart="kube-prometheus-stack",
            version=KUBE_PROMETHEUS_STACK_VERSION,
            repo=PROMETHEUS_REPO,
            namespace=MONITORING_NAMESPACE,
            values={
                "prometheus": {"prometheusSpec": prometheus_spec},
                "grafana": {
                    "admin": {
                        "existingSecret": GRAFANA_SECRET,
                        "userKey": "admin-user",
                        "passwordKey": "admin-password",
                    }
                },
                # EKS runs these on its hidden control plane (and kube-proxy binds its
                # metrics to localhost): scraping them only raises TargetDown alerts.
                "kubeControllerManager": {"enabled": False},
                "kubeScheduler": {"enabled": False},
                "kubeEtcd": {"enabled": False},
                "kubeProxy": {"enabled": False},
            },
            depends_on=[grafana_secret, self._storage_class],
            timeout=900,
        )
        k8s.apiextensions.CustomResource(
            f"{self._name}-envoy-metrics",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata={"name": "envoy-stats", "namespace": MONITORING_NAMESPACE},
            spec={
                "namespaceSelector": {"matchNames": [APP_NAMESPACE]},
                "selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
                "podMetricsEndpoints": [{"port": "http-envoy-prom", "path": "/stats/prometheus", "interval": "30s"}],
            },
            opts=self._on_cluster(depends_on=[self._prometheus]),
        )
        if eks.tracing:
            self._tracing()

    def _tracing(self) -> None:
        role = self._irsa_role(
            "eks-otel",
            MONITORING_NAMESPACE,
            OTEL_SERVICE_ACCOUNT,
            "OpenTelemetry collector: sends mesh traces to X-Ray",
        )
        aws.iam.RolePolicy(
            f"{self._name}-eks-otel-xray",
            role=role.id,
            # X-Ray's trace and sampling APIs have no resource-level permissions.
            policy=policy_document(
                statement(
                    [
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                    ],
                    "*",
                )
            ),
            opts=self._child(),
        )
        self._release(
            OTEL_SERVICE_ACCOUNT,
            chart="opentelemetry-collector",
            version=OPENTELEMETRY_COLLECTOR_VERSION,
            repo=OPENTELEMETRY_REPO,
            namespace=MONITORING_NAMESPACE,
            values={
                "mode": "deployment",
                "fullnameOverride": OTEL_SERVICE_ACCOUNT,
                # The X-Ray exporter ships in the contrib distribution only.
                "image": {"repository": "otel/opentelemetry-collector-contrib"},
                "serviceAccount": {
                    "create": True,
                    "name": OTEL_SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": role.arn},
                },
                "config": {
                    "exporters": {"awsxray": {"region": self._config.region}},
                    "service": {
                        "pipelines": {
                            "traces": {
                                "receivers": ["otlp"],
                                "processors": ["memory_limiter", "batch"],
                                "exporters": ["awsxray"],
                            }
                        }
                    },
                },
            },
            depends_on=[],
        )

    def _external_secrets(self) -> None:
        prefix = f"{self._config.project}/{self._config.stack}/"
        role = self._irsa_role(
            "eks-ext-secrets",
            SECRETS_NAMESPACE,
            ESO_SERVICE_ACCOUNT,
            f"External Secrets Operator: reads {prefix}* from Secrets Manager",
        )
        aws.iam.RolePolicy(
            f"{self._name}-eks-ext-secrets-read",
            role=role.id,
            policy=policy_document(
                statement(
                    [
                        "secretsmanager:GetSecretValue",
                        "secretsmanager:DescribeSecret",
                        "secretsmanager:ListSecretVersionIds",
                    ],
                    [
                        pulumi.Output.concat(
                            f"arn:{self._partition}:secretsmanager:{self._config.region}:",
                            self._account,
                            f":secret:{prefix}*",
                        )
                    ],
                ),
                # The stack's secrets are under the stack key.
                statement(["kms:Decrypt"], [self._stack_key_arn]),
            ),
            opts=self._child(),
        )
        release = self._release(
            "external-secrets",
            chart="external-secrets",
            version=EXTERNAL_SECRETS_VERSION,
            repo=EXTERNAL_SECRETS_REPO,
            namespace=SECRETS_NAMESPACE,
            values={
                "installCRDs": True,
                "serviceAccount": {
                    "name": ESO_SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": role.arn},
                },
            },
            depends_on=[],
        )
        k8s.apiextensions.CustomResource(
            f"{self._name}-secret-store",
            api_version="external-secrets.io/v1",
            kind="ClusterSecretStore",
            metadata={"name": SECRET_STORE},
            spec={
                "provider": {
                    "aws": {
                        "service": "SecretsManager",
                        "region": self._config.region,
                        "auth": {
                            "jwt": {"serviceAccountRef": {"name": ESO_SERVICE_ACCOUNT, "namespace": SECRETS_NAMESPACE}}
                        },
                    }
                },
                # Cluster-wide kind, but only the application namespace may use it.
                "conditions": [{"namespaces": [APP_NAMESPACE]}],
            },
            opts=self._on_cluster(depends_on=[release]),
        )

    # -- workloads -----------------------------------------------------------
    def _namespace_policies(self) -> None:
        """Deny everything in the application namespace, then allow what every mesh pod needs."""
        everything = k8s.meta.v1.LabelSelectorArgs()
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-netpol-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace=APP_NAMESPACE),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(pod_selector=everything, policy_types=["Ingress", "Egress"]),
            opts=self._on_cluster(depends_on=[self._ns[APP_NAMESPACE]]),
        )
        egress = [
            _egress(_in_namespace("kube-system", {"k8s-app": "kube-dns"}), [("UDP", 53), ("TCP", 53)]),
            # The mesh control plane: configuration (xDS) and workload certificates.
            _egress(_in_namespace(ISTIO_NAMESPACE, ISTIOD_POD_LABELS), [("TCP", ISTIOD_XDS_PORT)]),
            # Mesh peers: calls between services (mTLS, checked by each peer's ingress policy).
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=everything)]
            ),
            # Out of the cluster: AWS APIs and the database, never the instance metadata service.
            _egress(
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0", except_=[INSTANCE_METADATA])
                ),
                [("TCP", 443), ("TCP", 5432)],
            ),
        ]
        if self._eks.tracing:
            egress.append(
                _egress(
                    _in_namespace(MONITORING_NAMESPACE, {"app.kubernetes.io/instance": OTEL_SERVICE_ACCOUNT}),
                    [("TCP", OTEL_GRPC_PORT)],
                )
            )
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-netpol-mesh-egress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mesh-egress", namespace=APP_NAMESPACE),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=everything, policy_types=["Egress"], egress=egress
            ),
            opts=self._on_cluster(depends_on=[self._ns[APP_NAMESPACE]]),
        )

    def _image(self, image: str) -> pulumi.Input[str]:
        """A registry-less image name is an ECR repository of the stack's own account."""
        first = image.split("/", 1)[0]
        if "/" in image and ("." in first or ":" in first or first == "localhost"):
            return image
        return pulumi.Output.concat(self._account, f".dkr.ecr.{self._config.region}.{self._dns_suffix}/{image}")

    def _workload(self, service: ServiceConfig) -> None:
        name = service.name
        labels = {"app": name, "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "flowbuilder"}
        selector = k8s.meta.v1.LabelSelectorArgs(match_labels={"app": name})

        def metadata(**extra: Any) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=APP_NAMESPACE, labels=labels, **extra)

        on_namespace = self._on_cluster(depends_on=[self._ns[APP_NAMESPACE]])
        account = k8s.core.v1.ServiceAccount(
            f"{self._name}-{name}-sa",
            metadata=metadata(),
            # The mesh identity comes from the service account name; the app needs no API token.
            automount_service_account_token=False,
            opts=on_namespace,
        )
        resources = {"cpu": service.cpu, "memory": service.memory}
        probe = k8s.core.v1.HTTPGetActionArgs(path=service.health_path, port="http")
        tolerations, affinity = None, None
        if service.spot and self._eks.spot_node_group:
            tolerations = [
                k8s.core.v1.TolerationArgs(
                    key=SPOT_TAINT["key"], operator="Equal", value=SPOT_TAINT["value"], effect="NoSchedule"
                )
            ]
            affinity = k8s.core.v1.AffinityArgs(
                node_affinity=k8s.core.v1.NodeAffinityArgs(
                    preferred_during_scheduling_ignored_during_execution=[
                        k8s.core.v1.PreferredSchedulingTermArgs(
                            weight=100,
                            preference=k8s.core.v1.NodeSelectorTermArgs(
                                match_expressions=[
                                    k8s.core.v1.NodeSelectorRequirementArgs(
                                        key=SPOT_TAINT["key"], operator="In", values=[SPOT_TAINT["value"]]
                                    )
                                ]
                            ),
                        )
                    ]
                )
            )
        k8s.apps.v1.Deployment(
            f"{self._name}-{name}",
            metadata=metadata(),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=service.replicas,
                selector=selector,
                revision_history_limit=5,
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=account.metadata.name,
                        automount_service_account_token=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=10001,
                            run_as_group=10001,
                            fs_group=10001,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name=name,
                                image=self._image(service.image),
                                image_pull_policy="IfNotPresent",
                                ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=service.port)],
                                # Requests = limits: Guaranteed QoS, and the HPA's percentage
                                # means the same thing on every node.
                                resources=k8s.core.v1.ResourceRequirementsArgs(requests=resources, limits=resources),
                                readiness_probe=k8s.core.v1.ProbeArgs(
                                    http_get=probe,
                                    initial_delay_seconds=5,
                                    period_seconds=10,
                                    timeout_seconds=2,
                                    failure_threshold=3,
                                ),
                                liveness_probe=k8s.core.v1.ProbeArgs(
                                    http_get=probe,
                                    initial_delay_seconds=15,
                                    period_seconds=20,
                                    timeout_seconds=2,
                                    failure_threshold=3,
                                ),
                                security_context=k8s.core.v1.SecurityContextArgs(
                                    allow_privilege_escalation=False,
                                    privileged=False,
                                    read_only_root_filesystem=True,
                                    run_as_non_root=True,
                                    capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                                    seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                                ),
                                volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
                            )
                        ],
                        # A writable /tmp, since the root filesystem is read-only.
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="256Mi")
                            )
                        ],
                        topology_spread_constraints=[
                            k8s.core.v1.TopologySpreadConstraintArgs(
                                max_skew=1,
                                topology_key=key,
                                when_unsatisfiable="ScheduleAnyway",
                                label_selector=selector,
                            )
                            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
                        ],
                        tolerations=tolerations,
                        affinity=affinity,
                        termination_grace_period_seconds=30,
                    ),
                ),
            ),
            # The HPA owns the replica count after creation; the sidecar must be
            # injected, so istiod's webhook comes first.
            opts=self._on_cluster(depends_on=[self._ns[APP_NAMESPACE], self._istiod], ignore_changes=["spec.replicas"]),
        )
        k8s.core.v1.Service(
            f"{self._name}-{name}-svc",
            metadata=metadata(),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector={"app": name},
                ports=[
                    k8s.core.v1.ServicePortArgs(name="http", port=service.port, target_port="http", app_protocol="http")
                ],
            ),
            opts=on_namespace,
        )
        k8s.apiextensions.CustomResource(
            f"{self._name}-{name}-routes",
            api_version="networking.istio.io/v1",
            kind="VirtualService",
            metadata={"name": name, "namespace": APP_NAMESPACE},
            spec={"hosts": [f"{name}.{APP_NAMESPACE}.svc.cluster.local"], "http": [self._route(service)]},
            opts=self._on_cluster(depends_on=[self._istiod, self._ns[APP_NAMESPACE]]),
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self._name}-{name}-hpa",
            metadata=metadata(),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=name
                ),
                min_replicas=service.hpa.min,
                max_replicas=service.hpa.max,
                # The application container's CPU only: the sidecar's usage and
                # request would otherwise skew the percentage.
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="ContainerResource",
                        container_resource=k8s.autoscaling.v2.ContainerResourceMetricSourceArgs(
                            container=name,
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=service.hpa.cpu_percent
                            ),
                        ),
                    )
                ],
            ),
            opts=on_namespace,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-{name}-pdb",
            metadata=metadata(),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(min_available=service.pdb.min_available, selector=selector),
            opts=on_namespace,
        )
        sources = [
            (_in_namespace(APP_NAMESPACE, {}), [("TCP", service.port)]),
            (
                _in_namespace(MONITORING_NAMESPACE, PROMETHEUS_POD_LABELS),
                [("TCP", ENVOY_METRICS_PORT), ("TCP", MERGED_METRICS_PORT)],
            ),
        ]
        if service.gateway_path:
            sources.insert(0, (_in_namespace(GATEWAY_NAMESPACE, GATEWAY_POD_LABELS), [("TCP", service.port)]))
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-{name}-netpol",
            metadata=metadata(),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=selector,
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[peer], ports=_ports(ports))
                    for peer, ports in sources
                ],
            ),
            opts=on_namespace,
        )


def _in_namespace(namespace: str, pod_labels: dict[str, str]) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """Pods with ``pod_labels`` (any pod when empty) in ``namespace``."""
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": namespace}),
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pod_labels),
    )


def _ports(ports: list[tuple[str, int]]) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [k8s.networking.v1.NetworkPolicyPortArgs(protocol=protocol, port=port) for protocol, port in ports]


def _egress(
    peer: k8s.networking.v1.NetworkPolicyPeerArgs, ports: list[tuple[str, int]]
) -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
    return k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[peer], ports=_ports(ports))
