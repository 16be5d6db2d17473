"""MeshService: one configured service of the mesh, and MeshGateway: the ingress gateway's routes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stackconfig.model import ServiceConfig

from .istio import CONNECTION_POOL, GATEWAY_NAMESPACE, GATEWAY_POD_LABELS, OUTLIER_DETECTION
from .platform import (
    APP_NAMESPACE,
    MONITORING_NAMESPACE,
    SPOT_TAINT_KEY,
    SPOT_TAINT_VALUE,
    MeshContext,
    in_namespace,
    on_cluster,
    ports_of,
)
from .secrets import database_secret

TRACK = "flowbuilder.io/track"
"""``stable`` or ``canary``: the DestinationRule subsets, and what the stable HPA and PDB select."""
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
ENVOY_METRICS_PORT = 15090
MERGED_METRICS_PORT = 15020
"""The sidecar's merged application + Envoy metrics (Istio's prometheus merge)."""
RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,503"
"""Failures where the request never reached application code, plus 503 (overloaded or draining pod)."""
RUN_AS = 10001


@dataclass
class MeshServiceArgs:
    """Inputs of :class:`MeshService`: the mesh context, the service's config entry and its image."""

    context: MeshContext
    service: ServiceConfig
    repository_url: pulumi.Input[str]
    """The ECR repository of the service's image (``<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<image>``)."""
    digest: str
    """The stable Deployment's digest, from ``flowbuilder:images``."""
    after: list[pulumi.Resource]
    """istiod (the sidecar is injected at pod creation) and the namespace."""
    secret_store: pulumi.Resource | None = None
    """The ClusterSecretStore, for a service with ``database: true``."""


class MeshService(pulumi.ComponentResource):
    """A service of the mesh in the ``flowbuilder`` namespace, named ``eks.services[].name``.

    ServiceAccount (no API token), Deployment ``<name>`` (track ``stable``) running
    ``<repository>@<digest>``: requests = limits (Guaranteed QoS), probes on ``healthPath``,
    non-root, read-only root filesystem, no privilege escalation, capabilities dropped, seccomp
    RuntimeDefault, spread over zones and nodes; with ``spot`` it tolerates the ``spot`` NodePool
    (which Karpenter tries first). ClusterIP Service over both tracks; DestinationRule with the
    subsets ``stable`` (and ``canary``); VirtualService with timeout and retries; autoscaling/v2
    HPA on the application container's CPU and a PodDisruptionBudget, both on the stable track;
    an ingress NetworkPolicy. With ``database``: the ExternalSecret ``<name>-database`` as the
    pods' environment. With ``canary``: Deployment ``<name>-canary`` (its own digest,
    ``canary.replicas`` pods, no HPA) taking ``canary.weight`` percent of requests, and all
    requests carrying ``canary.header``.
    """

    def __init__(self, name: str, args: MeshServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:MeshService", name, None, opts)
        self._name = name
        self._context = context = args.context
        self._service = service = args.service
        self._args = args
        on_namespace = on_cluster(context, self, args.after)
        self.account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=self._metadata(service.name),
            # The mesh identity comes from the service account name; the app needs no API token.
            automount_service_account_token=False,
            opts=on_namespace,
        )
        self._environment: list[k8s.core.v1.EnvFromSourceArgs] = []
        waits = list(args.after)
        if service.database:
            if args.secret_store is None:
                raise ValueError(f"service {service.name} needs the database but no secret store was given")
            secret = database_secret(context, self, service.name, args.secret_store, args.after)
            self._environment.append(
                k8s.core.v1.EnvFromSourceArgs(
                    secret_ref=k8s.core.v1.SecretEnvSourceArgs(name=f"{service.name}-database")
                )
            )
            waits.append(secret)
        self.stable = self._deployment("stable", service.name, args.digest, service.replicas, waits, scaled=True)
        if service.canary:
            self.canary = self._deployment(
                "canary", f"{service.name}-canary", service.canary.digest, service.canary.replicas, waits, scaled=False
            )
        k8s.core.v1.Service(
            f"{name}-svc",
            metadata=self._metadata(service.name),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector={"app": service.name},
                ports=[
                    k8s.core.v1.ServicePortArgs(name="http", port=service.port, target_port="http", app_protocol="http")
                ],
            ),
            opts=on_namespace,
        )
        subsets = [{"name": "stable", "labels": {TRACK: "stable"}}]
        if service.canary:
            subsets.append({"name": "canary", "labels": {TRACK: "canary"}})
        # A host's own DestinationRule replaces the namespace default, so it repeats its policy.
        k8s.apiextensions.CustomResource(
            f"{name}-destination",
            api_version="networking.istio.io/v1",
            kind="DestinationRule",
            metadata={"name": service.name, "namespace": APP_NAMESPACE},
            spec={
                "host": self.host,
                "trafficPolicy": {
                    "tls": {"mode": "ISTIO_MUTUAL"},
                    "connectionPool": CONNECTION_POOL,
                    "outlierDetection": OUTLIER_DETECTION,
                },
                "subsets": subsets,
            },
            opts=on_namespace,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-routes",
            api_version="networking.istio.io/v1",
            kind="VirtualService",
            metadata={"name": service.name, "namespace": APP_NAMESPACE},
            spec={"hosts": [self.host], "http": self.routes()},
            opts=on_namespace,
        )
        self._autoscaling(on_namespace)
        self._network_policy(on_namespace)
        self.register_outputs({"image": self.image_of(args.digest)})

    @property
    def host(self) -> str:
        return f"{self._service.name}.{APP_NAMESPACE}.svc.cluster.local"

    def image_of(self, digest: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(self._args.repository_url, "@", digest)

    def _metadata(self, name: str, **labels: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=APP_NAMESPACE, labels={**self._labels, **labels})

    @property
    def _labels(self) -> dict[str, str]:
        name = self._service.name
        return {"app": name, "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "flowbuilder"}

    def routes(self) -> list[dict[str, Any]]:
        """HTTP routes: the canary header first (first match wins), then the weighted split."""
        service = self._service
        per_try = max(1, math.floor(service.timeout_seconds / (service.retries + 1)))
        retries: dict[str, Any] = {"attempts": service.retries}
        if service.retries:
            retries.update(perTryTimeout=f"{per_try}s", retryOn=RETRY_ON)
        policy = {"timeout": f"{service.timeout_seconds}s", "retries": retries}

        def to(subset: str, weight: int) -> dict[str, Any]:
            return {
                "destination": {"host": self.host, "subset": subset, "port": {"number": service.port}},
                "weight": weight,
            }

        canary = service.canary
        routes = []
        if canary and canary.header:
            routes.append(
                {
                    "name": "canary-header",
                    "match": [{"headers": {canary.header.name: {"exact": canary.header.value}}}],
                    "route": [to("canary", 100)],
                    **policy,
                }
            )
        split = [to("stable", 100 - canary.weight), to("canary", canary.weight)] if canary else [to("stable", 100)]
        routes.append({"name": "default", "route": split, **policy})
        return routes

    def _deployment(
        self, track: str, name: str, digest: str, replicas: int, waits: list[pulumi.Resource], *, scaled: bool
    ) -> k8s.apps.v1.Deployment:
        service = self._service
        # `version` is the label Istio's telemetry (Kiali, the Grafana dashboards) splits a service by.
        labels = {**self._labels, TRACK: track, "version": track}
        selector = k8s.meta.v1.LabelSelectorArgs(match_labels={"app": service.name, TRACK: track})
        resources = {"cpu": service.cpu, "memory": service.memory}
        probe = k8s.core.v1.HTTPGetActionArgs(path=service.health_path, port="http")
        tolerations = None
        if service.spot:
            tolerations = [
                k8s.core.v1.TolerationArgs(
                    key=SPOT_TAINT_KEY, operator="Equal", value=SPOT_TAINT_VALUE, effect="NoSchedule"
                )
            ]
        return k8s.apps.v1.Deployment(
            f"{self._name}-{track}",
            metadata=self._metadata(name, **{TRACK: track}),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=replicas,
                selector=selector,
                revision_history_limit=5,
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=self.account.metadata.name,
                        automount_service_account_token=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=RUN_AS,
                            run_as_group=RUN_AS,
                            fs_group=RUN_AS,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name=service.name,
                                image=self.image_of(digest),
                                image_pull_policy="IfNotPresent",
                                ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=service.port)],
                                env_from=self._environment or None,
                                # Requests = limits: Guaranteed QoS, and the HPA's percentage
                                # means the same thing on every node.
                                resources=k8s.core.v1.ResourceRequirementsArgs(requests=resources, limits=resources),
                                readiness_probe=k8s.core.v1.ProbeArgs(
                                    http_get=probe, initial_delay_seconds=5, period_seconds=10, timeout_seconds=2
                                ),
                                liveness_probe=k8s.core.v1.ProbeArgs(
                                    http_get=probe, initial_delay_seconds=15, period_seconds=20, timeout_seconds=2
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
                                max_skew=1, topology_key=key, when_unsatisfiable=when, label_selector=selector
                            )
                            # Zones strictly: Karpenter then launches nodes in every zone;
                            # nodes loosely, so a small stack is not forced onto more nodes.
                            for key, when in (
                                ("topology.kubernetes.io/zone", "DoNotSchedule"),
                                ("kubernetes.io/hostname", "ScheduleAnyway"),
                            )
                        ],
                        tolerations=tolerations,
                        termination_grace_period_seconds=30,
                    ),
                ),
            ),
            # The HPA owns the stable replica count after creation.
            opts=on_cluster(self._context, self, waits, ignore_changes=["spec.replicas"] if scaled else None),
        )

    def _autoscaling(self, opts: pulumi.ResourceOptions) -> None:
        service = self._service
        stable = k8s.meta.v1.LabelSelectorArgs(match_labels={"app": service.name, TRACK: "stable"})
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self._name}-hpa",
            metadata=self._metadata(service.name),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=self.stable.metadata.name
                ),
                min_replicas=service.hpa.min,
                max_replicas=service.hpa.max,
                # The application container's CPU only: the sidecar's usage and
                # request would otherwise skew the percentage.
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="ContainerResource",
                        container_resource=k8s.autoscaling.v2.ContainerResourceMetricSourceArgs(
                            container=service.name,
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=service.hpa.cpu_percent
                            ),
                        ),
                    )
                ],
            ),
            opts=opts,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-pdb",
            metadata=self._metadata(service.name),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(min_available=service.pdb.min_available, selector=stable),
            opts=opts,
        )

    def _network_policy(self, opts: pulumi.ResourceOptions) -> None:
        service = self._service
        sources = [
            (in_namespace(APP_NAMESPACE, {}), [("TCP", service.port)]),
            (
                in_namespace(MONITORING_NAMESPACE, PROMETHEUS_POD_LABELS),
                [("TCP", ENVOY_METRICS_PORT), ("TCP", MERGED_METRICS_PORT)],
            ),
        ]
        if service.gateway_path:
            sources.insert(0, (in_namespace(GATEWAY_NAMESPACE, GATEWAY_POD_LABELS), [("TCP", service.port)]))
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-netpol",
            metadata=self._metadata(service.name),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": service.name}),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[peer], ports=ports_of(ports))
                    for peer, ports in sources
                ],
            ),
            opts=opts,
        )


@dataclass
class MeshGatewayArgs:
    """Inputs of :class:`MeshGateway`: the mesh context and the services with a ``gatewayPath``."""

    context: MeshContext
    services: list[tuple[ServiceConfig, MeshService]]
    after: list[pulumi.Resource]


class MeshGateway(pulumi.ComponentResource):
    """The Istio Gateway ``flowbuilder`` on the ingress gateway (HTTP 80) and one VirtualService of
    every service's ``gatewayPath``, longest prefix first (Istio takes the first match), each with
    the service's own routes (canary header and weights included)."""

    def __init__(self, name: str, args: MeshGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:MeshGateway", name, None, opts)
        context = args.context
        exposed = sorted(args.services, key=lambda pair: len(pair[0].gateway_path or ""), reverse=True)
        gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version="networking.istio.io/v1",
            kind="Gateway",
            metadata={"name": APP_NAMESPACE, "namespace": APP_NAMESPACE},
            spec={
                "selector": GATEWAY_POD_LABELS,
                "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
            },
            opts=on_cluster(context, self, args.after),
        )
        routes = []
        for config, service in exposed:
            for route in service.routes():
                prefix = {"uri": {"prefix": config.gateway_path}}
                matches = [{**match, **prefix} for match in route.get("match", [{}])]
                routes.append({**route, "name": f"{config.name}-{route['name']}", "match": matches})
        k8s.apiextensions.CustomResource(
            f"{name}-gateway-routes",
            api_version="networking.istio.io/v1",
            kind="VirtualService",
            metadata={"name": f"{APP_NAMESPACE}-gateway", "namespace": APP_NAMESPACE},
            spec={"hosts": ["*"], "gateways": [f"{APP_NAMESPACE}/{APP_NAMESPACE}"], "http": routes},
            opts=on_cluster(context, self, [gateway, *args.after]),
        )
        self.register_outputs({})
