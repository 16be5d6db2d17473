"""The Kubernetes layer (components/mesh, the mesh/ project): what each component declares, and the project's wiring."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components.mesh import (
    CHARTS,
    ClusterInfo,
    ExternalSecrets,
    ExternalSecretsArgs,
    IstioMesh,
    IstioMeshArgs,
    Karpenter,
    KarpenterArgs,
    MeshContext,
    MeshGateway,
    MeshGatewayArgs,
    MeshService,
    MeshServiceArgs,
    Namespaces,
    NamespacesArgs,
    Observability,
    ObservabilityArgs,
)
from preview.checks.kubernetes import kubernetes_findings
from preview.report.docs import released_overrides
from release.backend import PROJECTS
from simulation.harness import MESH_PROJECT, ROOT, StackRun, project_of, run_mesh, run_program, run_stack, stack_config
from stackconfig import ConfigError, Environment
from stackconfig.model import EksConfig, ServiceConfig
from tests.component_support import section
from tests.eks_output import STAND_IN_EKS_OUTPUT

DIGEST = "sha256:" + "1" * 64
CANARY_DIGEST = "sha256:" + "2" * 64
REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/flowbuilder-prod/api"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
RELEASE = "kubernetes:helm.sh/v3:Release"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"
DESTINATION_RULE = "kubernetes:networking.istio.io/v1:DestinationRule"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


def eks(**overrides: Any) -> EksConfig:
    return section(EksConfig, "eks", Environment.PROD, **overrides)


def cluster() -> ClusterInfo:
    return ClusterInfo.of(pulumi.Output.from_input(STAND_IN_EKS_OUTPUT))


def run_mesh_components(build, eks_config: EksConfig | None = None) -> StackRun:
    """``build(context, namespaces, eks)`` inside a program with the mesh context and namespaces."""
    config = eks_config or eks()

    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        context = MeshContext("flowbuilder-prod", "prod", "us-east-1", {"stack": "prod"}, provider, cluster())
        namespaces = Namespaces("flowbuilder-prod", NamespacesArgs(context, tracing=config.tracing.enabled))
        build(context, namespaces, config)

    return run_program(program, stack="prod", config={"aws:region": "us-east-1"}, project=MESH_PROJECT)


def release(run: StackRun, name: str):
    return next(r for r in run.of_type(RELEASE) if r.inputs["name"] == name)


def by_name(run: StackRun, token: str, name: str):
    found = [r for r in run.of_type(token) if r.inputs["metadata"]["name"] == name]
    assert len(found) == 1, [r.inputs["metadata"]["name"] for r in run.of_type(token)]
    return found[0]


# -- Karpenter ---------------------------------------------------------------------------------
def karpenter_run(**pools: Any) -> StackRun:
    config = eks(nodePools=pools) if pools else eks()
    return run_mesh_components(lambda c, n, e: Karpenter("flowbuilder-prod", KarpenterArgs(c, e.node_pools)), config)


def requirement(pool, key: str) -> list[str]:
    found = [r for r in pool.inputs["spec"]["template"]["spec"]["requirements"] if r["key"] == key]
    assert len(found) == 1 and found[0]["operator"] == "In"
    return found[0]["values"]


def test_general_pool_is_graviton_on_demand_of_the_configured_families_and_sizes():
    run = karpenter_run(general={"instanceFamilies": ["m7g", "c7g"], "instanceSizes": ["large", "xlarge"]})
    pool = by_name(run, NODE_POOL, "general")
    assert requirement(pool, "kubernetes.io/arch") == ["arm64"]
    assert requirement(pool, "karpenter.sh/capacity-type") == ["on-demand"]
    assert requirement(pool, "karpenter.k8s.aws/instance-family") == ["m7g", "c7g"]
    assert requirement(pool, "karpenter.k8s.aws/instance-size") == ["large", "xlarge"]
    assert "taints" not in pool.inputs["spec"]["template"]["spec"]
    assert pool.inputs["spec"]["template"]["spec"]["nodeClassRef"] == {
        "group": "karpenter.k8s.aws",
        "kind": "EC2NodeClass",
        "name": "default",
    }


def test_spot_pool_is_tainted_tried_first_and_spans_several_families_and_sizes():
    run = karpenter_run()
    spot, general = by_name(run, NODE_POOL, "spot"), by_name(run, NODE_POOL, "general")
    assert requirement(spot, "karpenter.sh/capacity-type") == ["spot"]
    assert requirement(spot, "karpenter.k8s.aws/instance-family") == ["m7g", "m6g", "c7g", "c6g", "r7g", "t4g"]
    assert requirement(spot, "karpenter.k8s.aws/instance-size") == ["medium", "large", "xlarge", "2xlarge"]
    assert spot.inputs["spec"]["template"]["spec"]["taints"] == [
        {"key": "flowbuilder.io/capacity", "value": "spot", "effect": "NoSchedule"}
    ]
    # Karpenter tries the higher weight first; what Spot cannot place falls to on-demand.
    assert (spot.inputs["spec"]["weight"], general.inputs["spec"]["weight"]) == (50, 10)


def test_pools_consolidate_within_budgets_and_stop_at_their_limits():
    run = karpenter_run(
        general={"cpuLimit": 48, "memoryLimitGib": 192, "consolidateAfterSeconds": 600, "disruptionBudgetPercent": 25}
    )
    general, spot = by_name(run, NODE_POOL, "general"), by_name(run, NODE_POOL, "spot")
    assert general.inputs["spec"]["disruption"] == {
        "consolidationPolicy": "WhenEmptyOrUnderutilized",
        "consolidateAfter": "600s",
        "budgets": [{"nodes": "25%"}],
    }
    assert general.inputs["spec"]["limits"] == {"cpu": "48", "memory": "192Gi"}
    assert spot.inputs["spec"]["disruption"]["consolidateAfter"] == "60s"
    assert spot.inputs["spec"]["limits"] == {"cpu": "64", "memory": "256Gi"}
    assert general.inputs["spec"]["template"]["spec"]["expireAfter"] == "720h"


def test_node_class_finds_subnets_and_groups_by_the_discovery_tag_and_hardens_the_node():
    run = karpenter_run()
    [node_class] = run.of_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
    spec = node_class.inputs["spec"]
    discovery = [{"tags": {"karpenter.sh/discovery": STAND_IN_EKS_OUTPUT["discoveryTag"]}}]
    assert spec["subnetSelectorTerms"] == discovery
    assert spec["securityGroupSelectorTerms"] == discovery
    assert spec["role"] == STAND_IN_EKS_OUTPUT["nodeRoleName"]
    assert spec["amiSelectorTerms"] == [{"alias": "al2023@latest"}]
    assert spec["metadataOptions"]["httpTokens"] == "required"
    assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert spec["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",
            "ebs": {"volumeSize": "30Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True},
        }
    ]
    assert spec["tags"] == {"stack": "prod", "Name": "flowbuilder-prod-karpenter-node"}


def test_karpenter_chart_gets_the_cluster_and_the_interruption_queue():
    run = karpenter_run()
    chart = release(run, "karpenter")
    assert chart.inputs["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert chart.inputs["version"] == CHARTS["karpenter"].version
    assert chart.inputs["namespace"] == "kube-system"
    settings = chart.inputs["values"]["settings"]
    # `interruptionQueue`, not the old `interruptionQueueName` the chart silently ignores.
    assert settings == {
        "clusterName": STAND_IN_EKS_OUTPUT["clusterName"],
        "clusterEndpoint": STAND_IN_EKS_OUTPUT["endpoint"],
        "interruptionQueue": STAND_IN_EKS_OUTPUT["interruptionQueueName"],
    }
    assert chart.inputs["values"]["serviceAccount"] == {"create": True, "name": "karpenter"}
    crds = release(run, "karpenter-crd")
    assert crds.urn in chart.depends_on


# -- Istio and tracing --------------------------------------------------------------------------
def observed(**overrides: Any) -> StackRun:
    def build(context, namespaces, config):
        IstioMesh(
            "flowbuilder-prod",
            IstioMeshArgs(context, namespaces, config.tracing, private_subnet_ids=["subnet-a", "subnet-b"], after=[]),
        )
        Observability("flowbuilder-prod", ObservabilityArgs(context, namespaces, config, after=[]))

    return run_mesh_components(build, eks(**overrides))


def test_tracing_samples_the_configured_share_and_jaeger_keeps_spans_for_the_retention():
    run = observed(tracing={"enabled": True, "samplingPercent": 2.5, "retentionHours": 48, "volumeGb": 15})
    [telemetry] = run.of_type("kubernetes:telemetry.istio.io/v1:Telemetry")
    assert telemetry.inputs["metadata"]["namespace"] == "istio-system"
    assert telemetry.inputs["spec"]["tracing"] == [{"providers": [{"name": "jaeger"}], "randomSamplingPercentage": 2.5}]
    mesh = release(run, "istiod").inputs["values"]["meshConfig"]
    assert mesh["extensionProviders"] == [
        {
            "name": "jaeger",
            "opentelemetry": {"service": "jaeger-collector.flowbuilder-monitoring.svc.cluster.local", "port": 4317},
        }
    ]
    jaeger = release(run, "jaeger").inputs["values"]
    env = {e["name"]: e["value"] for e in jaeger["allInOne"]["extraEnv"]}
    assert env["BADGER_SPAN_STORE_TTL"] == "48h"
    assert env["SPAN_STORAGE_TYPE"] == "badger" and env["BADGER_EPHEMERAL"] == "false"
    [claim] = run.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert claim.inputs["metadata"]["name"] == jaeger["storage"]["badger"]["persistence"]["useExistingPvcName"]
    assert claim.inputs["spec"]["resources"]["requests"] == {"storage": "15Gi"}
    grafana = release(run, "kube-prometheus-stack").inputs["values"]["grafana"]
    assert grafana["additionalDataSources"] == [
        {
            "name": "Jaeger",
            "type": "jaeger",
            "uid": "jaeger",
            "url": "http://jaeger-query.flowbuilder-monitoring:16686",
            "access": "proxy",
        }
    ]


def test_without_tracing_there_is_no_jaeger_no_sampling_and_no_provider():
    run = observed(tracing={"enabled": False})
    assert run.of_type("kubernetes:telemetry.istio.io/v1:Telemetry") == []
    assert "jaeger" not in {r.inputs["name"] for r in run.of_type(RELEASE)}
    assert "extensionProviders" not in release(run, "istiod").inputs["values"]["meshConfig"]
    assert release(run, "kube-prometheus-stack").inputs["values"]["grafana"]["additionalDataSources"] == []
    assert release(run, "kiali").inputs["values"]["external_services"]["tracing"] == {"enabled": False}


def test_strict_mtls_and_an_internal_gateway_in_the_private_subnets():
    run = observed()
    [mtls] = run.of_type("kubernetes:security.istio.io/v1:PeerAuthentication")
    assert mtls.inputs["metadata"]["namespace"] == "flowbuilder"
    assert mtls.inputs["spec"] == {"mtls": {"mode": "STRICT"}}
    annotations = release(run, "istio-ingressgateway").inputs["values"]["service"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-subnets"] == "subnet-a,subnet-b"


def test_kiali_reads_the_prometheus_the_chart_names_and_only_views():
    run = observed()
    prometheus = release(run, "kube-prometheus-stack")
    kiali = release(run, "kiali").inputs["values"]
    # The chart names Prometheus's Service <release>-prometheus in the release's namespace.
    service = f"{prometheus.inputs['name']}-prometheus.{prometheus.inputs['namespace']}"
    assert kiali["external_services"]["prometheus"] == {"url": f"http://{service}:9090"}
    assert kiali["external_services"]["tracing"]["internal_url"] == "http://jaeger-query.flowbuilder-monitoring:16685"
    assert kiali["deployment"]["view_only_mode"] is True
    assert kiali["deployment"]["service_type"] == "ClusterIP"
    assert kiali["auth"] == {"strategy": "anonymous"}


def test_prometheus_keeps_its_retention_on_a_bounded_volume():
    spec = release(observed(), "kube-prometheus-stack").inputs["values"]["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "15d"
    assert spec["retentionSize"] == "45GB"
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"] == {"requests": {"storage": "50Gi"}}


# -- services ------------------------------------------------------------------------------------
def service_config(**overrides: Any) -> ServiceConfig:
    return ServiceConfig.model_validate(
        {
            "name": "api",
            "image": "api",
            "port": 8080,
            "replicas": 3,
            "cpu": "500m",
            "memory": "1Gi",
            "hpa": {"min": 3, "max": 8, "cpuPercent": 70},
            "pdb": {"minAvailable": 2},
            "gatewayPath": "/",
            **overrides,
        }
    )


def service_run(service: ServiceConfig) -> StackRun:
    def build(context, namespaces, config):
        secrets = ExternalSecrets("flowbuilder-prod", ExternalSecretsArgs(context, namespaces, after=[]))
        deployed = MeshService(
            f"flowbuilder-prod-{service.name}",
            MeshServiceArgs(context, service, REPOSITORY, DIGEST, after=[], secret_store=secrets.store),
        )
        MeshGateway("flowbuilder-prod", MeshGatewayArgs(context, [(service, deployed)], after=[]))

    return run_mesh_components(build)


def test_a_service_runs_its_image_by_digest_on_the_stable_track():
    run = service_run(service_config())
    stable = by_name(run, DEPLOYMENT, "api")
    [container] = stable.inputs["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{REPOSITORY}@{DIGEST}"
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }
    assert stable.inputs["spec"]["selector"]["matchLabels"] == {"app": "api", "flowbuilder.io/track": "stable"}
    zone = stable.inputs["spec"]["template"]["spec"]["topologySpreadConstraints"][0]
    assert (zone["topologyKey"], zone["whenUnsatisfiable"]) == ("topology.kubernetes.io/zone", "DoNotSchedule")
    [route] = by_name(run, VIRTUAL_SERVICE, "api").inputs["spec"]["http"]
    assert [(r["destination"]["subset"], r["weight"]) for r in route["route"]] == [("stable", 100)]
    assert [s["name"] for s in by_name(run, DESTINATION_RULE, "api").inputs["spec"]["subsets"]] == ["stable"]
    assert "tolerations" not in stable.inputs["spec"]["template"]["spec"]


def test_a_canary_takes_its_weight_and_every_request_with_its_header():
    canary = {"digest": CANARY_DIGEST, "weight": 20, "replicas": 1, "header": {"name": "x-canary", "value": "on"}}
    run = service_run(service_config(canary=canary))
    deployment = by_name(run, DEPLOYMENT, "api-canary")
    assert deployment.inputs["spec"]["replicas"] == 1
    assert deployment.inputs["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPOSITORY}@{CANARY_DIGEST}"
    assert deployment.inputs["metadata"]["labels"]["flowbuilder.io/track"] == "canary"
    header, split = by_name(run, VIRTUAL_SERVICE, "api").inputs["spec"]["http"]
    assert header["match"] == [{"headers": {"x-canary": {"exact": "on"}}}]
    assert [(r["destination"]["subset"], r["weight"]) for r in header["route"]] == [("canary", 100)]
    assert [(r["destination"]["subset"], r["weight"]) for r in split["route"]] == [("stable", 80), ("canary", 20)]
    subsets = by_name(run, DESTINATION_RULE, "api").inputs["spec"]["subsets"]
    assert subsets == [
        {"name": "stable", "labels": {"flowbuilder.io/track": "stable"}},
        {"name": "canary", "labels": {"flowbuilder.io/track": "canary"}},
    ]
    gateway = by_name(run, VIRTUAL_SERVICE, "flowbuilder-gateway").inputs["spec"]["http"]
    assert [r["match"] for r in gateway] == [
        [{"headers": {"x-canary": {"exact": "on"}}, "uri": {"prefix": "/"}}],
        [{"uri": {"prefix": "/"}}],
    ]
    # The stable track keeps its autoscaler and budget; the canary has neither.
    [hpa] = run.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    assert hpa.inputs["spec"]["scaleTargetRef"]["name"] == "api"
    assert (hpa.inputs["spec"]["minReplicas"], hpa.inputs["spec"]["maxReplicas"]) == (3, 8)
    [pdb] = run.of_type("kubernetes:policy/v1:PodDisruptionBudget")
    assert pdb.inputs["spec"] == {
        "minAvailable": 2,
        "selector": {"matchLabels": {"app": "api", "flowbuilder.io/track": "stable"}},
    }


def test_a_database_service_gets_its_connection_through_an_external_secret_without_a_password():
    run = service_run(service_config(database=True))
    [secret] = run.of_type(EXTERNAL_SECRET)
    spec = secret.inputs["spec"]
    assert secret.inputs["metadata"] == {"name": "api-database", "namespace": "flowbuilder"}
    assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "aws-secrets-manager"}
    assert [d["remoteRef"] for d in spec["data"]] == [
        {"key": STAND_IN_EKS_OUTPUT["databaseSecretArn"], "property": "username"}
    ]
    assert spec["target"]["template"]["data"] == {
        "PGHOST": STAND_IN_EKS_OUTPUT["databaseEndpoint"],
        "PGPORT": "5432",
        "PGDATABASE": "flowbuilder",
        "PGUSER": "flowbuilder_app",
        "PGSSLMODE": "verify-full",
    }
    container = by_name(run, DEPLOYMENT, "api").inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "api-database"}}]
    [store] = run.of_type("kubernetes:external-secrets.io/v1:ClusterSecretStore")
    assert store.inputs["spec"]["conditions"] == [{"namespaces": ["flowbuilder"]}]
    assert store.urn in secret.depends_on


def test_a_service_without_the_database_gets_no_secret():
    run = service_run(service_config(database=False, spot=True))
    assert run.of_type(EXTERNAL_SECRET) == []
    pod = by_name(run, DEPLOYMENT, "api").inputs["spec"]["template"]["spec"]
    assert "envFrom" not in pod["containers"][0]
    assert pod["tolerations"] == [
        {"key": "flowbuilder.io/capacity", "operator": "Equal", "value": "spot", "effect": "NoSchedule"}
    ]


# -- the mesh project ------------------------------------------------------------------------------
def test_the_mesh_project_reads_the_same_stack_files_from_the_repository_root():
    project = yaml.safe_load((ROOT / "mesh" / "Pulumi.yaml").read_text())
    assert project["name"] == "flowbuilder-mesh"
    assert project["stackConfigDir"] == ".."
    assert project["runtime"]["options"]["virtualenv"] == "../.venv"
    # The release runs `pulumi` in this directory (release/backend.py, pulumi-up.yml `project: mesh`).
    assert (ROOT / PROJECTS["mesh"] / "Pulumi.yaml").exists()


def test_a_stack_runs_the_mesh_project_after_the_base_with_its_resources_apart():
    run = run_stack("prod", released_overrides("prod"))
    mesh = [r for r in run.resources if project_of(r.urn) == MESH_PROJECT]
    assert {r.type for r in mesh} >= {NODE_POOL, RELEASE, DEPLOYMENT}
    assert not [r for r in run.resources if project_of(r.urn) != MESH_PROJECT and r.type.startswith("kubernetes:")]
    assert run.mesh_outputs["services"] == ["api", "worker"]
    images = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]["template"]["spec"]["containers"][0]["image"]
        for r in run.of_type(DEPLOYMENT)
    }
    digests = released_overrides("prod")["flowbuilder:images"]
    assert images == {
        "api": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/flowbuilder-prod/api@{digests['api']}",
        "worker": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/flowbuilder-prod/worker@{digests['worker']}",
    }


def test_a_service_whose_image_has_no_digest_waits_and_the_preview_says_so():
    run = run_stack("staging")
    assert run.of_type(DEPLOYMENT) == []
    assert run.mesh_outputs["servicesAwaitingImages"] == {
        "api": "flowbuilder:images.api has no digest yet",
        "worker": "flowbuilder:images.worker has no digest yet",
    }


def test_the_mesh_project_refuses_a_stack_without_a_mesh():
    with pytest.raises(ConfigError, match=r"stack dev has no cluster for the mesh project"):
        run_mesh("dev", stack_config("dev"), {"eks": STAND_IN_EKS_OUTPUT})


def test_the_mesh_project_names_what_the_base_stacks_eks_output_lacks():
    incomplete = {key: value for key, value in STAND_IN_EKS_OUTPUT.items() if key != "interruptionQueueName"}
    with pytest.raises(Exception, match="the base stack's `eks` output lacks interruptionQueueName"):
        run_mesh("prod", stack_config("prod"), {"eks": incomplete, "repositoryUrls": {}})


def test_every_chart_is_pinned_and_every_release_uses_the_table():
    for label, chart in CHARTS.items():
        assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", chart.version), label
        for image in chart.images.values():
            assert re.fullmatch(r"[^:@\s]+:[A-Za-z0-9_.-]+", image) and not image.endswith(":latest"), image
    run = run_stack("prod", released_overrides("prod"))
    releases = run.of_type(RELEASE)
    assert sorted(r.inputs["name"] for r in releases) == sorted(CHARTS)
    for r in releases:
        chart = CHARTS[r.inputs["name"]]
        assert r.inputs["version"] == chart.version
        assert r.inputs["chart"].endswith(chart.chart)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_mesh_objects_pass_the_kubernetes_schema(stack):
    run = run_stack(stack, released_overrides(stack))
    result = kubernetes_findings(run, "1.35")
    assert result.problems == []
    assert result.checked >= 20


def test_the_stand_in_has_exactly_the_keys_of_the_eks_output():
    from components.mesh.platform import EKS_OUTPUT_KEYS

    assert sorted(STAND_IN_EKS_OUTPUT) == sorted(EKS_OUTPUT_KEYS)


def test_the_mesh_runs_on_the_base_runs_eks_output():
    from simulation.harness import _add_mesh

    endpoint = "https://exported.gr7.us-east-1.eks.amazonaws.com"
    outputs: dict[str, Any] = {
        "repositoryUrls": {"api": REPOSITORY, "worker": REPOSITORY},
        "eks": {**STAND_IN_EKS_OUTPUT, "endpoint": endpoint},
    }
    run = StackRun("prod", [], outputs, set())
    _add_mesh(run, stack_config("prod"), ())
    karpenter = release(run, "karpenter")
    assert karpenter.inputs["values"]["settings"]["clusterEndpoint"] == endpoint
