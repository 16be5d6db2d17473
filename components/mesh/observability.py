"""Prometheus, Grafana, Jaeger and Kiali in ``flowbuilder-monitoring``: private, reached by port-forward."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from stackconfig.model import EksConfig

from .platform import (
    APP_NAMESPACE,
    ISTIO_NAMESPACE,
    MONITORING_NAMESPACE,
    STORAGE_CLASS,
    MeshContext,
    Namespaces,
    on_cluster,
    release,
)

GRAFANA_SECRET = "grafana-admin"
PROMETHEUS_URL = f"http://kube-prometheus-stack-prometheus.{MONITORING_NAMESPACE}:9090"
GRAFANA_URL = f"http://kube-prometheus-stack-grafana.{MONITORING_NAMESPACE}:80"
JAEGER_QUERY_HTTP = f"http://jaeger-query.{MONITORING_NAMESPACE}:16686"
JAEGER_QUERY_GRPC = f"http://jaeger-query.{MONITORING_NAMESPACE}:16685"
JAEGER_VOLUME = "jaeger-spans"
JAEGER_MOUNT = "/badger"

PROMETHEUS_RESOURCES = {"requests": {"cpu": "200m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
GRAFANA_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
JAEGER_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
KIALI_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
SMALL_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}
"""The Prometheus operator, kube-state-metrics and each node's exporter."""

ISTIO_DASHBOARDS = {"istio-mesh": 7639, "istio-service": 7636, "istio-workload": 7630, "istio-control-plane": 7645}
"""grafana.com dashboard ids of Istio's own dashboards."""


@dataclass
class ObservabilityArgs:
    """Inputs of :class:`Observability`: the mesh context, the namespaces and ``eks`` (Prometheus, tracing, Kiali)."""

    context: MeshContext
    namespaces: Namespaces
    eks: EksConfig
    after: list[pulumi.Resource]


class Observability(pulumi.ComponentResource):
    """The mesh's metrics, traces and their UIs, every Service ClusterIP (docs/eks-mesh.md: port-forward).

    * kube-prometheus-stack: Prometheus keeping ``eks.prometheusRetentionDays`` days, on a
      ``eks.prometheusVolumeGb`` gp3 volume where set (capped by size a little below it); a
      PodMonitor for the sidecars' Envoy metrics; Grafana with its admin password generated into
      the Secret ``flowbuilder-monitoring/grafana-admin``, Prometheus as its default datasource,
      Jaeger as a second one (with tracing) and Istio's mesh, service, workload and control-plane
      dashboards;
    * with ``eks.tracing.enabled``: Jaeger all-in-one receiving OTLP from the sidecars, spans in
      Badger on a ``volumeGb`` gp3 volume, expiring after ``retentionHours``;
    * with ``eks.kiali.enabled``: Kiali (anonymous access, view-only unless ``viewOnly: false``)
      reading Prometheus, Jaeger and Grafana.
    """

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Observability", name, None, opts)
        self._name = name
        self._context = args.context
        self._eks = args.eks
        self._namespace = args.namespaces.name_of(MONITORING_NAMESPACE)
        after = [*args.after, args.namespaces.storage_class]
        tracing = args.eks.tracing.enabled
        self.jaeger = self._jaeger(after) if tracing else None
        self.prometheus = self._prometheus(after)
        if args.eks.kiali.enabled:
            self.kiali = self._kiali([self.prometheus, *([self.jaeger] if self.jaeger else [])])
        self.grafana_admin_secret = f"{MONITORING_NAMESPACE}/{GRAFANA_SECRET}"
        self.register_outputs({"grafana_admin_secret": self.grafana_admin_secret})

    def _prometheus(self, after: list[pulumi.Resource]) -> k8s.helm.v3.Release:
        eks, context = self._eks, self._context
        password = random.RandomPassword(
            f"{self._name}-grafana-admin", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        secret = k8s.core.v1.Secret(
            f"{self._name}-grafana-admin",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GRAFANA_SECRET, namespace=self._namespace),
            type="Opaque",
            string_data={"admin-user": "admin", "admin-password": pulumi.Output.secret(password.result)},
            opts=on_cluster(context, self),
        )
        spec: dict[str, Any] = {
            "retention": f"{eks.prometheus_retention_days}d",
            # Pick up every ServiceMonitor and PodMonitor, not only the chart's own.
            "serviceMonitorSelectorNilUsesHelmValues": False,
            "podMonitorSelectorNilUsesHelmValues": False,
            "resources": PROMETHEUS_RESOURCES,
        }
        if eks.prometheus_volume_gb:
            spec["storageSpec"] = {"volumeClaimTemplate": {"spec": claim(eks.prometheus_volume_gb)}}
            # Prometheus stops writing on a full disk; cap by size a little below it.
            spec["retentionSize"] = f"{math.floor(eks.prometheus_volume_gb * 0.9)}GB"
        datasources = []
        if eks.tracing.enabled:
            datasources.append(
                {"name": "Jaeger", "type": "jaeger", "uid": "jaeger", "url": JAEGER_QUERY_HTTP, "access": "proxy"}
            )
        prometheus = release(
            context,
            self,
            "kube-prometheus-stack",
            namespace=self._namespace,
            values={
                "prometheus": {"prometheusSpec": spec},
                "prometheusOperator": {"resources": SMALL_RESOURCES},
                "kube-state-metrics": {"resources": SMALL_RESOURCES},
                "prometheus-node-exporter": {"resources": SMALL_RESOURCES},
                "alertmanager": {"enabled": False},
                "grafana": {
                    "admin": {
                        "existingSecret": GRAFANA_SECRET,
                        "userKey": "admin-user",
                        "passwordKey": "admin-password",
                    },
                    "resources": GRAFANA_RESOURCES,
                    "service": {"type": "ClusterIP"},
                    "additionalDataSources": datasources,
                    "dashboardProviders": {
                        "dashboardproviders.yaml": {
                            "apiVersion": 1,
                            "providers": [
                                {
                                    "name": "istio",
                                    "folder": "Istio",
                                    "type": "file",
                                    "disableDeletion": True,
                                    "editable": False,
                                    "options": {"path": "/var/lib/grafana/dashboards/istio"},
                                }
                            ],
                        }
                    },
                    "dashboards": {
                        "istio": {
                            key: {"gnetId": gnet, "datasource": "Prometheus"} for key, gnet in ISTIO_DASHBOARDS.items()
                        }
                    },
                },
                # EKS runs these on its hidden control plane (and kube-proxy binds its
                # metrics to localhost): scraping them only raises TargetDown alerts.
                "kubeControllerManager": {"enabled": False},
                "kubeScheduler": {"enabled": False},
                "kubeEtcd": {"enabled": False},
                "kubeProxy": {"enabled": False},
            },
            depends_on=[secret, *after],
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
            opts=on_cluster(context, self, [prometheus]),
        )
        return prometheus

    def _jaeger(self, after: list[pulumi.Resource]) -> k8s.helm.v3.Release:
        tracing, context = self._eks.tracing, self._context
        volume = k8s.core.v1.PersistentVolumeClaim(
            f"{self._name}-jaeger-spans",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=JAEGER_VOLUME, namespace=self._namespace),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(**claim_args(tracing.volume_gb)),
            # WaitForFirstConsumer: the claim binds when Jaeger's pod is scheduled.
            opts=on_cluster(context, self, after),
        )
        return release(
            context,
            self,
            "jaeger",
            namespace=self._namespace,
            values={
                "provisionDataStore": {"cassandra": False, "elasticsearch": False, "kafka": False},
                "agent": {"enabled": False},
                "collector": {"enabled": False},
                "query": {"enabled": False},
                "allInOne": {
                    "enabled": True,
                    "resources": JAEGER_RESOURCES,
                    "extraEnv": [
                        {"name": "SPAN_STORAGE_TYPE", "value": "badger"},
                        {"name": "BADGER_EPHEMERAL", "value": "false"},
                        {"name": "BADGER_DIRECTORY_KEY", "value": f"{JAEGER_MOUNT}/key"},
                        {"name": "BADGER_DIRECTORY_VALUE", "value": f"{JAEGER_MOUNT}/data"},
                        # Spans expire after the retention; with the volume's size it bounds storage.
                        {"name": "BADGER_SPAN_STORE_TTL", "value": f"{tracing.retention_hours}h"},
                        {"name": "COLLECTOR_OTLP_ENABLED", "value": "true"},
                    ],
                },
                "storage": {
                    "type": "badger",
                    "badger": {
                        "ephemeral": False,
                        "persistence": {"mountPath": JAEGER_MOUNT, "useExistingPvcName": JAEGER_VOLUME},
                    },
                },
            },
            depends_on=[volume],
        )

    def _kiali(self, after: list[pulumi.Resource]) -> k8s.helm.v3.Release:
        eks = self._eks
        external: dict[str, Any] = {
            "prometheus": {"url": PROMETHEUS_URL},
            "grafana": {"enabled": True, "internal_url": GRAFANA_URL},
            "tracing": {"enabled": False},
        }
        if eks.tracing.enabled:
            external["tracing"] = {
                "enabled": True,
                "provider": "jaeger",
                "internal_url": JAEGER_QUERY_GRPC,
                "use_grpc": True,
            }
        return release(
            self._context,
            self,
            "kiali",
            namespace=self._namespace,
            values={
                "istio_namespace": ISTIO_NAMESPACE,
                # Reached by port-forward only (docs/eks-mesh.md): whoever can port-forward
                # already holds cluster credentials.
                "auth": {"strategy": "anonymous"},
                "deployment": {
                    "view_only_mode": eks.kiali.view_only,
                    "resources": KIALI_RESOURCES,
                    "service_type": "ClusterIP",
                },
                "external_services": external,
            },
            depends_on=after,
        )


def claim_args(size_gb: int) -> dict[str, Any]:
    return {
        "storage_class_name": STORAGE_CLASS,
        "access_modes": ["ReadWriteOnce"],
        "resources": k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": f"{size_gb}Gi"}),
    }


def claim(size_gb: int) -> dict[str, Any]:
    """A claim spec as chart values (camelCase)."""
    return {
        "storageClassName": STORAGE_CLASS,
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{size_gb}Gi"}},
    }
