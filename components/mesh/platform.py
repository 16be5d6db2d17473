"""What the mesh project installs and where: every chart, its pinned version and images, in one table.

Charts are pinned in code, not config: every stack runs what was reviewed, and
promotion dev -> staging -> prod carries the same charts. Images a chart runs
are those the chart version names (a chart version never changes once
published); where the values set an image it is listed with its tag. The
application images are pinned by digest (``flowbuilder:images``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stackconfig import StackConfig


@dataclass(frozen=True)
class Chart:
    """One Helm chart: where it comes from, its version, and the images it runs."""

    chart: str
    repo: str
    version: str
    images: dict[str, str] = field(default_factory=dict)
    """``repository:tag`` of each image the chart runs, as set in its values."""
    note: str = ""


CHARTS: dict[str, Chart] = {
    "karpenter": Chart(
        "karpenter",
        "oci://public.ecr.aws/karpenter",
        "1.8.1",
        note="NodePool and EC2NodeClass karpenter.sh/v1 and karpenter.k8s.aws/v1",
    ),
    "karpenter-crd": Chart(
        "karpenter-crd", "oci://public.ecr.aws/karpenter", "1.8.1", note="the same version as karpenter"
    ),
    "istio-base": Chart("base", "https://istio-release.storage.googleapis.com/charts", "1.30.5"),
    "istiod": Chart(
        "istiod",
        "https://istio-release.storage.googleapis.com/charts",
        "1.30.5",
        {"pilot": "docker.io/istio/pilot:1.30.5", "proxy": "docker.io/istio/proxyv2:1.30.5"},
        "base, istiod and gateway move together; Istio 1.30 supports Kubernetes 1.32 to 1.36",
    ),
    "istio-ingressgateway": Chart(
        "gateway",
        "https://istio-release.storage.googleapis.com/charts",
        "1.30.5",
        {"proxy": "docker.io/istio/proxyv2:1.30.5"},
    ),
    "kube-prometheus-stack": Chart(
        "kube-prometheus-stack",
        "https://prometheus-community.github.io/helm-charts",
        "88.2.0",
        note="Prometheus, Grafana and the operator at the images chart 88.2.0 names",
    ),
    "jaeger": Chart(
        "jaeger",
        "https://jaegertracing.github.io/helm-charts",
        "3.4.1",
        note="all-in-one (the image chart 3.4.1 names) with the Badger span store on its own volume",
    ),
    "kiali": Chart(
        "kiali-server",
        "https://kiali.org/helm-charts",
        "2.21.0",
        note="Kiali v2.21, the image chart 2.21.0 names",
    ),
    "external-secrets": Chart(
        "external-secrets",
        "https://charts.external-secrets.io",
        "2.10.0",
        note="serves the external-secrets.io/v1 API that the ClusterSecretStore uses",
    ),
}

APP_NAMESPACE = "flowbuilder"
MONITORING_NAMESPACE = "flowbuilder-monitoring"
ISTIO_NAMESPACE = "istio-system"
GATEWAY_NAMESPACE = "istio-ingress"
SECRETS_NAMESPACE = "external-secrets"
KARPENTER_NAMESPACE = "kube-system"
STORAGE_CLASS = "gp3"
PART_OF = {"app.kubernetes.io/part-of": "flowbuilder"}

SPOT_TAINT_KEY = "flowbuilder.io/capacity"
SPOT_TAINT_VALUE = "spot"


def image_parts(image: str) -> dict[str, str]:
    """``{"repository": ..., "tag": ...}`` of a ``repository:tag`` table entry, for chart values."""
    repository, _, tag = image.rpartition(":")
    return {"repository": repository, "tag": tag}


KARPENTER_SERVICE_ACCOUNT = "kube-system/karpenter"
EXTERNAL_SECRETS_SERVICE_ACCOUNT = "external-secrets/external-secrets"
"""The service accounts the base stack's Pod Identity associations name (its ``eks`` output repeats them)."""
EKS_OUTPUT_KEYS = (
    "clusterName",
    "endpoint",
    "certificateAuthority",
    "kubernetesVersion",
    "region",
    "nodeRoleName",
    "nodeSecurityGroupId",
    "privateSubnetIds",
    "discoveryTag",
    "interruptionQueueName",
    "karpenterServiceAccount",
    "externalSecretsServiceAccount",
    "databaseSecretArn",
    "databaseEndpoint",
    "databasePort",
    "databaseName",
    "applicationDatabaseUser",
)
"""The keys of the base stack's ``eks`` output."""


@dataclass(frozen=True)
class ClusterInfo:
    """The base stack's ``eks`` output: the cluster and what the mesh project needs of the AWS side."""

    cluster_name: pulumi.Input[str]
    endpoint: pulumi.Input[str]
    certificate_authority: pulumi.Input[str]
    region: pulumi.Input[str]
    node_role_name: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[list[str]]
    discovery_tag: pulumi.Input[str]
    interruption_queue_name: pulumi.Input[str]
    database_secret_arn: pulumi.Input[str]
    database_endpoint: pulumi.Input[str]
    database_port: pulumi.Input[float]
    database_name: pulumi.Input[str]
    application_database_user: pulumi.Input[str]
    karpenter_service_account: str = KARPENTER_SERVICE_ACCOUNT
    external_secrets_service_account: str = EXTERNAL_SECRETS_SERVICE_ACCOUNT

    @classmethod
    def of(cls, eks: pulumi.Output[Any]) -> ClusterInfo:
        """From the ``eks`` output; a missing key or another service account fails the update by name."""

        def checked(value: Any) -> dict[str, Any]:
            if not isinstance(value, dict):
                raise pulumi.RunError("the base stack has no `eks` output: run `pulumi up` of the base project first")
            missing = [key for key in EKS_OUTPUT_KEYS if key not in value]
            if missing:
                raise pulumi.RunError(f"the base stack's `eks` output lacks {', '.join(missing)}")
            for key, expected in (
                ("karpenterServiceAccount", KARPENTER_SERVICE_ACCOUNT),
                ("externalSecretsServiceAccount", EXTERNAL_SECRETS_SERVICE_ACCOUNT),
            ):
                if value[key] != expected:
                    raise pulumi.RunError(
                        f"the base stack's eks.{key} is {value[key]!r}; the mesh installs {expected!r}"
                    )
            return value

        output = eks.apply(checked)

        def key(name: str) -> pulumi.Output[Any]:
            return output.apply(lambda value: value[name])

        return cls(
            cluster_name=key("clusterName"),
            endpoint=key("endpoint"),
            certificate_authority=key("certificateAuthority"),
            region=key("region"),
            node_role_name=key("nodeRoleName"),
            private_subnet_ids=key("privateSubnetIds"),
            discovery_tag=key("discoveryTag"),
            interruption_queue_name=key("interruptionQueueName"),
            database_secret_arn=key("databaseSecretArn"),
            database_endpoint=key("databaseEndpoint"),
            database_port=key("databasePort"),
            database_name=key("databaseName"),
            application_database_user=key("applicationDatabaseUser"),
        )


@dataclass(frozen=True)
class MeshContext:
    """What every mesh component takes beside its own settings (the mesh's StackContext)."""

    prefix: str
    """``<project>-<stack>``, as in the base program."""
    stack: str
    region: str
    tags: dict[str, str]
    provider: k8s.Provider
    cluster: ClusterInfo

    @classmethod
    def of(cls, config: StackConfig, provider: k8s.Provider, cluster: ClusterInfo) -> MeshContext:
        return cls(config.name_prefix, config.stack, config.region, dict(config.default_tags), provider, cluster)


def on_cluster(
    context: MeshContext, parent: pulumi.Resource, depends_on: list[pulumi.Resource] | None = None, **options: Any
) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, provider=context.provider, depends_on=depends_on or [], **options)


def release(
    context: MeshContext,
    parent: pulumi.Resource,
    label: str,
    *,
    namespace: pulumi.Input[str],
    values: dict[str, Any],
    depends_on: list[pulumi.Resource] | None = None,
    timeout: int = 600,
) -> k8s.helm.v3.Release:
    """The chart ``CHARTS[label]`` as the Helm release ``label``; waits until its workloads are ready."""
    chart = CHARTS[label]
    return k8s.helm.v3.Release(
        f"{parent._name}-{label}",
        name=label,
        chart=chart.chart if not chart.repo.startswith("oci://") else f"{chart.repo}/{chart.chart}",
        version=chart.version,
        repository_opts=None if chart.repo.startswith("oci://") else k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
        namespace=namespace,
        values=values,
        cleanup_on_fail=True,
        max_history=10,
        timeout=timeout,
        opts=on_cluster(context, parent, depends_on),
    )


INSTANCE_METADATA = "169.254.169.254/32"
ISTIOD_XDS_PORT = 15012
JAEGER_OTLP_PORT = 4317


@dataclass
class NamespacesArgs:
    """Inputs of :class:`Namespaces`: the mesh context and whether the sidecars send traces."""

    context: MeshContext
    tracing: bool


class Namespaces(pulumi.ComponentResource):
    """The mesh's namespaces, its default StorageClass and the application namespace's base policies.

    ``flowbuilder`` (sidecar injection on), ``flowbuilder-monitoring``, ``external-secrets``,
    ``istio-system`` and ``istio-ingress``; ``gp3``: encrypted gp3 EBS volumes, bound where the
    pod lands (WaitForFirstConsumer), expandable, the cluster's default class. In ``flowbuilder``
    a NetworkPolicy denies all traffic by default, and another allows DNS, istiod, mesh peers,
    the Jaeger collector (with tracing) and HTTPS / PostgreSQL out of the cluster, never the
    instance metadata service.
    """

    def __init__(self, name: str, args: NamespacesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:MeshNamespaces", name, None, opts)
        context = args.context
        self._name = name
        labels = {
            APP_NAMESPACE: {"istio-injection": "enabled"},
            MONITORING_NAMESPACE: {"istio-injection": "disabled"},
            SECRETS_NAMESPACE: {"istio-injection": "disabled"},
            ISTIO_NAMESPACE: {},
            GATEWAY_NAMESPACE: {},
        }
        self.namespaces = {
            namespace: k8s.core.v1.Namespace(
                f"{name}-ns-{namespace}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace, labels={**extra, **PART_OF}),
                opts=on_cluster(context, self),
            )
            for namespace, extra in labels.items()
        }
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-storage-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS, annotations={"storageclass.kubernetes.io/is-default-class": "true"}
            ),
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=on_cluster(context, self),
        )
        self._policies(context, args.tracing)
        self.register_outputs({"namespaces": list(self.namespaces)})

    def _policies(self, context: MeshContext, tracing: bool) -> None:
        everything = k8s.meta.v1.LabelSelectorArgs()
        after = [self.namespaces[APP_NAMESPACE]]
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-netpol-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace=APP_NAMESPACE),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(pod_selector=everything, policy_types=["Ingress", "Egress"]),
            opts=on_cluster(context, self, after),
        )
        egress = [
            egress_to(in_namespace("kube-system", {"k8s-app": "kube-dns"}), [("UDP", 53), ("TCP", 53)]),
            # The mesh control plane: configuration (xDS) and workload certificates.
            egress_to(in_namespace(ISTIO_NAMESPACE, {"app": "istiod"}), [("TCP", ISTIOD_XDS_PORT)]),
            # Mesh peers: calls between services (mTLS, checked by each peer's ingress policy).
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=everything)]
            ),
            # Out of the cluster: AWS APIs and the database, never the instance metadata service.
            egress_to(
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0", except_=[INSTANCE_METADATA])
                ),
                [("TCP", 443), ("TCP", 5432)],
            ),
        ]
        if tracing:
            egress.append(
                egress_to(
                    in_namespace(MONITORING_NAMESPACE, {"app.kubernetes.io/name": "jaeger"}),
                    [("TCP", JAEGER_OTLP_PORT)],
                )
            )
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-netpol-mesh-egress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mesh-egress", namespace=APP_NAMESPACE),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=everything, policy_types=["Egress"], egress=egress
            ),
            opts=on_cluster(context, self, after),
        )

    def name_of(self, namespace: str) -> pulumi.Output[str]:
        """The namespace's name as an output, so what is created in it waits for it."""
        return self.namespaces[namespace].metadata.name


def in_namespace(namespace: str, pod_labels: dict[str, str]) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """Pods with ``pod_labels`` (any pod when empty) in ``namespace``."""
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": namespace}),
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pod_labels),
    )


def ports_of(ports: list[tuple[str, int]]) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [k8s.networking.v1.NetworkPolicyPortArgs(protocol=protocol, port=port) for protocol, port in ports]


def egress_to(
    peer: k8s.networking.v1.NetworkPolicyPeerArgs, ports: list[tuple[str, int]]
) -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
    return k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[peer], ports=ports_of(ports))


def kubeconfig(cluster: ClusterInfo) -> pulumi.Output[str]:
    """A kubeconfig for the cluster that authenticates with ``aws eks get-token`` as the caller (a secret)."""
    config = pulumi.Output.all(cluster.cluster_name, cluster.endpoint, cluster.certificate_authority, cluster.region)

    def document(values: list[Any]) -> dict[str, Any]:
        name, endpoint, authority, region = values
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": authority}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", name, "--region", region],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        }

    return pulumi.Output.secret(pulumi.Output.json_dumps(config.apply(document)))
