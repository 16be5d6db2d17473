"""Istio: base, istiod (STRICT mTLS in ``flowbuilder``), the internal ingress gateway and trace sampling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stackconfig.model import TracingConfig

from .platform import (
    APP_NAMESPACE,
    GATEWAY_NAMESPACE,
    ISTIO_NAMESPACE,
    MONITORING_NAMESPACE,
    MeshContext,
    Namespaces,
    on_cluster,
    release,
)

GATEWAY_RELEASE = "istio-ingressgateway"
GATEWAY_POD_LABELS = {"istio": "ingressgateway"}
"""The gateway chart labels its pods ``istio: <release name without "istio-">``."""
ISTIOD_POD_LABELS = {"app": "istiod"}
ISTIOD_XDS_PORT = 15012
TRACING_PROVIDER = "jaeger"
JAEGER_COLLECTOR = f"jaeger-collector.{MONITORING_NAMESPACE}.svc.cluster.local"
OTLP_GRPC_PORT = 4317
ISTIOD_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}}
PROXY_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
GATEWAY_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}}

# Mesh-wide client defaults (DestinationRule): a slow or failing pod is ejected
# for 30 s after 5 consecutive 5xx, at most half of a service's pods at once.
CONNECTION_POOL = {
    "tcp": {"maxConnections": 100, "connectTimeout": "5s"},
    "http": {"http1MaxPendingRequests": 100, "http2MaxRequests": 1000, "maxRetries": 3},
}
OUTLIER_DETECTION = {"consecutive5xxErrors": 5, "interval": "30s", "baseEjectionTime": "30s", "maxEjectionPercent": 50}


@dataclass
class IstioMeshArgs:
    """Inputs of :class:`IstioMesh`: the mesh context, the namespaces, ``eks.tracing`` and the private subnets."""

    context: MeshContext
    namespaces: Namespaces
    tracing: TracingConfig
    private_subnet_ids: pulumi.Input[list[str]]
    after: list[pulumi.Resource]
    """What must run first (the NodePools: istiod's pods need nodes to land on)."""


class IstioMesh(pulumi.ComponentResource):
    """The Istio mesh, pinned to ``CHARTS["istiod"]``'s version.

    * ``base`` and ``istiod`` in ``istio-system``: two to five istiod replicas (its own PDB would
      otherwise block every node drain), sidecars requesting 50m / 128Mi, access logs on stdout,
      Prometheus metrics merged, applications held until their sidecar is ready;
    * with ``eks.tracing.enabled``: the ``jaeger`` OpenTelemetry provider (the Jaeger collector's
      OTLP port) and a mesh-wide ``Telemetry`` sampling ``samplingPercent`` of requests;
    * ``gateway`` in ``istio-ingress`` as an internal NLB in the private subnets, two to five
      replicas with a PDB of one;
    * PeerAuthentication ``default`` STRICT in ``flowbuilder`` and a default DestinationRule
      (ISTIO_MUTUAL, connection limits, outlier detection) for every service there.
    """

    def __init__(self, name: str, args: IstioMeshArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:IstioMesh", name, None, opts)
        self._name = name
        context, namespaces = args.context, args.namespaces
        mesh_config: dict[str, Any] = {
            "accessLogFile": "/dev/stdout",
            "enablePrometheusMerge": True,
            # The app starts once its sidecar is ready, so its first calls do not fail.
            "defaultConfig": {"holdApplicationUntilProxyStarts": True},
        }
        if args.tracing.enabled:
            mesh_config["extensionProviders"] = [
                {"name": TRACING_PROVIDER, "opentelemetry": {"service": JAEGER_COLLECTOR, "port": OTLP_GRPC_PORT}}
            ]
        istio_namespace = namespaces.name_of(ISTIO_NAMESPACE)
        base = release(context, self, "istio-base", namespace=istio_namespace, values={}, depends_on=args.after)
        self.istiod = release(
            context,
            self,
            "istiod",
            namespace=istio_namespace,
            values={
                "autoscaleMin": 2,
                "autoscaleMax": 5,
                "resources": ISTIOD_RESOURCES,
                "meshConfig": mesh_config,
                "global": {"proxy": {"resources": PROXY_RESOURCES}},
            },
            depends_on=[base],
        )
        self.gateway = release(
            context,
            self,
            GATEWAY_RELEASE,
            namespace=namespaces.name_of(GATEWAY_NAMESPACE),
            values={
                "autoscaling": {
                    "enabled": True,
                    "minReplicas": 2,
                    "maxReplicas": 5,
                    "targetCPUUtilizationPercentage": 80,
                },
                "podDisruptionBudget": {"minAvailable": 1},
                "resources": GATEWAY_RESOURCES,
                "service": {
                    "type": "LoadBalancer",
                    # Internal: reachable from the VPC only. TLS and public exposure
                    # belong in front of it (docs/eks-mesh.md).
                    "annotations": {
                        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
                        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
                        # Named subnets: left to discovery, the controller may pick any
                        # subnet of an AZ, database subnets included.
                        "service.beta.kubernetes.io/aws-load-balancer-subnets": pulumi.Output.from_input(
                            args.private_subnet_ids
                        ).apply(",".join),
                    },
                },
            },
            # Gateway pods get their proxy from istiod's injection webhook.
            depends_on=[self.istiod],
        )
        app = [self.istiod, namespaces.namespaces[APP_NAMESPACE]]
        k8s.apiextensions.CustomResource(
            f"{name}-mtls-strict",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata={"name": "default", "namespace": APP_NAMESPACE},
            spec={"mtls": {"mode": "STRICT"}},
            opts=on_cluster(context, self, app),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-destination-default",
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
            opts=on_cluster(context, self, app),
        )
        if args.tracing.enabled:
            # In the root namespace: the mesh-wide default every workload inherits.
            k8s.apiextensions.CustomResource(
                f"{name}-tracing",
                api_version="telemetry.istio.io/v1",
                kind="Telemetry",
                metadata={"name": "mesh-default", "namespace": ISTIO_NAMESPACE},
                spec={
                    "tracing": [
                        {
                            "providers": [{"name": TRACING_PROVIDER}],
                            "randomSamplingPercentage": args.tracing.sampling_percent,
                        }
                    ]
                },
                opts=on_cluster(context, self, [self.istiod]),
            )
        self.register_outputs({})
