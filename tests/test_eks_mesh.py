"""EksMesh: the EKS control plane, nodes, add-ons, Istio, observability and the mesh's services."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from pydantic import ValidationError

from simulation.harness import RecordedResource, StackRun, read_stack_file, run_stack
from simulation.mocks import ACCOUNT_ID
from stackconfig.defaults import defaults_for
from stackconfig.model import EksConfig, Environment, ServiceConfig, Topology

pytestmark = pytest.mark.skip(reason="moved to the mesh project")
VARIANT_CIDR = "198.51.100.0/24"
VARIANT_ADMIN = f"arn:aws:iam::{ACCOUNT_ID}:role/platform-oncall"
PINNED_IMAGE = "ghcr.io/example/worker@sha256:" + "a" * 64


@functools.cache
def variant() -> StackRun:
    """Staging with every optional part on: public endpoint, admin role, Spot group, tracing."""
    eks = json.loads(read_stack_file("staging")["flowbuilder:eks"])
    worker = next(s for s in eks["services"] if s["name"] == "worker")
    worker.update(spot=True, image=PINNED_IMAGE)
    eks.update(
        publicAccessCidrs=[VARIANT_CIDR],
        adminRoleArns=[VARIANT_ADMIN],
        spotNodeGroup=True,
        tracing=True,
    )
    return run_stack("staging", overrides={"flowbuilder:eks": eks})


def k8s(run: StackRun, kind: str, name: str | None = None, namespace: str | None = None) -> list[RecordedResource]:
    """Kubernetes objects of ``kind`` (by metadata name and namespace when given)."""
    found = []
    for resource in run.resources:
        if not resource.type.startswith("kubernetes:") or resource.type.split(":")[-1] != kind:
            continue
        metadata = resource.inputs.get("metadata") or {}
        if name is not None and metadata.get("name") != name:
            continue
        if namespace is not None and metadata.get("namespace") != namespace:
            continue
        found.append(resource)
    return found


def one_k8s(run: StackRun, kind: str, name: str, namespace: str | None = None) -> RecordedResource:
    found = k8s(run, kind, name, namespace)
    assert len(found) == 1, f"expected one {kind} {namespace}/{name}, found {len(found)}"
    return found[0]


def release(run: StackRun, name: str) -> RecordedResource:
    found = [r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == name]
    assert len(found) == 1, f"expected one Helm release {name}"
    return found[0]


def role_by_label(run: StackRun, label: str) -> RecordedResource:
    return run.one("aws:iam/role:Role", f"-{label}")


def documents(resource: RecordedResource, key: str) -> list[dict[str, Any]]:
    return json.loads(resource.inputs[key])["Statement"]


def container(deployment: RecordedResource) -> dict[str, Any]:
    (only,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    return only


# -- where the mesh exists ------------------------------------------------------
def test_dev_and_ultra_declare_no_eks_resources(dev, ultra):
    for run in (dev, ultra):
        kinds = {r.type for r in run.resources}
        assert not [t for t in kinds if t.startswith(("aws:eks/", "kubernetes:", "pulumi:providers:kubernetes"))]
        assert "flowbuilder:index:EksMesh" not in kinds
        assert "eksClusterName" not in run.outputs


def test_staging_and_prod_export_their_cluster(staging, prod):
    assert staging.outputs["eksClusterName"] == "flowbuilder-staging-mesh"
    assert prod.outputs["eksClusterName"] == "flowbuilder-prod-mesh"


# -- control plane -------------------------------------------------------------
def test_prod_control_plane_is_standard_support_logged_encrypted_and_private(prod):
    cluster = prod.one("aws:eks/cluster:Cluster")
    inputs = cluster.inputs
    assert inputs["name"] == "flowbuilder-prod-mesh"
    assert inputs["version"] == "1.35"
    assert inputs["upgradePolicy"] == {"supportType": "STANDARD"}
    assert inputs["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert inputs["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}
    assert inputs["bootstrapSelfManagedAddons"] is False
    assert inputs["deletionProtection"] is True

    key = prod.one("aws:kms/key:Key", "-eks-secrets")
    assert key.inputs["enableKeyRotation"] is True
    (encryption,) = [inputs["encryptionConfig"]]
    assert encryption["resources"] == ["secrets"]
    assert encryption["provider"]["keyArn"] == key.state["arn"]

    vpc = inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc
    assert vpc["subnetIds"] == prod.outputs["privateSubnetIds"]
    control_plane_sg = prod.one("aws:ec2/securityGroup:SecurityGroup", "-eks-control-plane-sg")
    assert vpc["securityGroupIds"] == [control_plane_sg.id]

    log_group = prod.one("aws:cloudwatch/logGroup:LogGroup", "-eks-control-plane")
    assert log_group.inputs["name"] == "/aws/eks/flowbuilder-prod-mesh/cluster"
    assert log_group.inputs["retentionInDays"] == 30
    assert log_group.urn in cluster.depends_on


def test_cluster_role_may_use_only_its_secrets_key(prod):
    key = prod.one("aws:kms/key:Key", "-eks-secrets")
    (grant,) = documents(prod.one("aws:iam/rolePolicy:RolePolicy", "-eks-cluster-kms"), "policy")
    assert sorted(grant["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"]
    assert grant["Resource"] == [key.state["arn"]]
    (trust,) = documents(role_by_label(prod, "eks-cluster"), "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "eks.amazonaws.com"}


def test_public_endpoint_only_for_listed_cidrs_and_admins_via_access_entries():
    run = variant()
    vpc = run.one("aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == [VARIANT_CIDR]
    entry = run.one("aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["principalArn"] == VARIANT_ADMIN
    assert entry.inputs["type"] == "STANDARD"
    association = run.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert association.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert association.inputs["accessScope"] == {"type": "cluster"}


def test_committed_stacks_grant_no_extra_admins(prod):
    assert prod.of_type("aws:eks/accessEntry:AccessEntry") == []


def test_an_open_api_endpoint_is_rejected():
    eks = defaults_for(Environment.PROD, Topology.STANDARD)["eks"]
    with pytest.raises(ValidationError, match="0.0.0.0/0"):
        EksConfig.model_validate({**eks, "publicAccessCidrs": ["0.0.0.0/0"]})


# -- nodes -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stack", "instance_type", "count", "max_count"),
    [("staging", "t4g.medium", 3, 6), ("prod", "t4g.large", 6, 12)],
)
def test_node_group_size_per_stack(stack, instance_type, count, max_count, request):
    run = request.getfixturevalue(stack)
    (group,) = run.of_type("aws:eks/nodeGroup:NodeGroup")
    inputs = group.inputs
    assert inputs["nodeGroupName"] == f"flowbuilder-{stack}-general"
    assert inputs["instanceTypes"] == [instance_type]
    assert inputs["amiType"] == "AL2023_ARM_64_STANDARD"
    assert inputs["capacityType"] == "ON_DEMAND"
    assert inputs["scalingConfig"] == {"desiredSize": count, "minSize": count, "maxSize": max_count}
    assert inputs["updateConfig"] == {"maxUnavailable": 1}
    assert inputs["subnetIds"] == run.outputs["privateSubnetIds"]
    assert inputs["version"] == "1.35"


def test_nodes_keep_pods_off_the_instance_role(prod):
    template = prod.one("aws:ec2/launchTemplate:LaunchTemplate", "-eks-node")
    assert template.inputs["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    (disk,) = template.inputs["blockDeviceMappings"]
    assert disk["ebs"]["encrypted"] == "true"
    assert disk["ebs"]["volumeType"] == "gp3"
    node_sg = prod.one("aws:ec2/securityGroup:SecurityGroup", "-eks-node-sg")
    assert template.inputs["vpcSecurityGroupIds"] == [node_sg.id]
    (group,) = prod.of_type("aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["launchTemplate"] == {"id": template.id, "version": "1"}
    policies = {
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name.startswith("flowbuilder-prod-eks-node-")
    }
    # The CNI policy sits on the vpc-cni IRSA role, not on every node.
    assert policies == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonSSMManagedInstanceCore",
    }


def test_spot_group_is_tainted_and_only_spot_services_tolerate_it():
    run = variant()
    spot = run.one("aws:eks/nodeGroup:NodeGroup", "-eks-spot")
    assert spot.inputs["capacityType"] == "SPOT"
    assert spot.inputs["instanceTypes"] == ["t4g.medium", "c6g.large", "c7g.large"]
    assert spot.inputs["scalingConfig"] == {"desiredSize": 2, "minSize": 2, "maxSize": 2}
    assert spot.inputs["taints"] == [{"key": "flowbuilder.io/capacity", "value": "spot", "effect": "NO_SCHEDULE"}]
    worker = one_k8s(run, "Deployment", "worker", "mindflow")
    tolerations = worker.inputs["spec"]["template"]["spec"]["tolerations"]
    assert tolerations == [
        {"key": "flowbuilder.io/capacity", "operator": "Equal", "value": "spot", "effect": "NoSchedule"}
    ]
    api = one_k8s(run, "Deployment", "api", "mindflow")
    assert "tolerations" not in api.inputs["spec"]["template"]["spec"]


def test_spot_types_must_match_the_node_architecture():
    eks = defaults_for(Environment.STAGING, Topology.STANDARD)["eks"]
    with pytest.raises(ValidationError, match="same CPU architecture"):
        EksConfig.model_validate({**eks, "spotInstanceTypes": ["t4g.medium", "t3.medium"]})


# -- security groups ---------------------------------------------------------------
def test_control_plane_reaches_the_istio_webhook_on_the_nodes(prod):
    node_sg = prod.one("aws:ec2/securityGroup:SecurityGroup", "-eks-node-sg")
    control_plane_sg = prod.one("aws:ec2/securityGroup:SecurityGroup", "-eks-control-plane-sg")
    from_control_plane = {
        (r.inputs["fromPort"], r.inputs["toPort"])
        for r in prod.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == node_sg.id
        and r.inputs.get("referencedSecurityGroupId") == control_plane_sg.id
        and r.inputs["ipProtocol"] == "tcp"
    }
    assert from_control_plane == {(443, 443), (10250, 10251), (15017, 15017), (15012, 15012)}
    api_from_nodes = prod.one(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "-eks-control-plane-from-nodes-in"
    )
    assert api_from_nodes.inputs["securityGroupId"] == control_plane_sg.id
    assert api_from_nodes.inputs["referencedSecurityGroupId"] == node_sg.id
    assert (api_from_nodes.inputs["fromPort"], api_from_nodes.inputs["toPort"]) == (443, 443)
    assert node_sg.inputs["tags"]["kubernetes.io/cluster/flowbuilder-prod-mesh"] == "owned"


# -- add-ons and IRSA ------------------------------------------------------------------
def test_addons_with_network_policy_enforcement(prod):
    addons = {r.inputs["addonName"]: r for r in prod.of_type("aws:eks/addon:Addon")}
    assert set(addons) == {"vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver", "metrics-server"}
    assert json.loads(addons["vpc-cni"].inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert addons["vpc-cni"].inputs["serviceAccountRoleArn"] == role_by_label(prod, "eks-vpc-cni").state["arn"]
    assert (
        addons["aws-ebs-csi-driver"].inputs["serviceAccountRoleArn"] == role_by_label(prod, "eks-ebs-csi").state["arn"]
    )
    (group,) = prod.of_type("aws:eks/nodeGroup:NodeGroup")
    # Nodes need pod networking to become Ready; coredns needs nodes to run on.
    assert {addons["vpc-cni"].urn, addons["kube-proxy"].urn} <= set(group.depends_on)
    for name in ("coredns", "aws-ebs-csi-driver", "metrics-server"):
        assert group.urn in addons[name].depends_on


@pytest.mark.parametrize(
    ("label", "namespace", "service_account"),
    [
        ("eks-vpc-cni", "kube-system", "aws-node"),
        ("eks-ebs-csi", "kube-system", "ebs-csi-controller-sa"),
        ("eks-ext-secrets", "external-secrets-system", "external-secrets"),
    ],
)
def test_irsa_trust_is_scoped_to_one_service_account(prod, label, namespace, service_account):
    provider = prod.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    issuer = prod.one("aws:eks/cluster:Cluster").state["identities"][0]["oidcs"][0]["issuer"]
    assert provider.inputs["url"] == issuer
    host = issuer.removeprefix("https://")
    (trust,) = documents(role_by_label(prod, label), "assumeRolePolicy")
    assert trust["Effect"] == "Allow"
    assert trust["Principal"] == {"Federated": provider.state["arn"]}
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {
        "StringEquals": {
            f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
            f"{host}:aud": "sts.amazonaws.com",
        }
    }


def test_external_secrets_reads_only_this_stacks_path(prod):
    read, decrypt = documents(prod.one("aws:iam/rolePolicy:RolePolicy", "-eks-ext-secrets-read"), "policy")
    assert (decrypt["Action"], decrypt["Resource"]) == (["kms:Decrypt"], [prod.outputs["stackKeyArn"]])
    assert sorted(read["Action"]) == [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:ListSecretVersionIds",
    ]
    assert read["Resource"] == [f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:flowbuilder/prod/*"]
    operator = release(prod, "external-secrets")
    assert operator.inputs["values"]["serviceAccount"] == {
        "name": "external-secrets",
        "annotations": {"eks.amazonaws.com/role-arn": role_by_label(prod, "eks-ext-secrets").state["arn"]},
    }
    store = one_k8s(prod, "ClusterSecretStore", "aws-secrets-manager")
    aws_provider = store.inputs["spec"]["provider"]["aws"]
    assert aws_provider["service"] == "SecretsManager"
    assert aws_provider["region"] == "us-east-1"
    assert aws_provider["auth"] == {
        "jwt": {"serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets-system"}}
    }
    assert store.inputs["spec"]["conditions"] == [{"namespaces": ["mindflow"]}]
    assert operator.urn in store.depends_on


# -- Helm charts ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "chart", "version", "repo", "namespace"),
    [
        ("istio-base", "base", "1.30.5", "https://istio-release.storage.googleapis.com/charts", "istio-system"),
        ("istiod", "istiod", "1.30.5", "https://istio-release.storage.googleapis.com/charts", "istio-system"),
        (
            "istio-ingressgateway",
            "gateway",
            "1.30.5",
            "https://istio-release.storage.googleapis.com/charts",
            "istio-ingress",
        ),
        (
            "kube-prometheus-stack",
            "kube-prometheus-stack",
            "88.2.0",
            "https://prometheus-community.github.io/helm-charts",
            "mindflow-monitoring",
        ),
        (
            "external-secrets",
            "external-secrets",
            "2.10.0",
            "https://charts.external-secrets.io",
            "external-secrets-system",
        ),
    ],
)
def test_helm_charts_are_pinned(prod, name, chart, version, repo, namespace):
    inputs = release(prod, name).inputs
    assert inputs["chart"] == chart
    assert inputs["version"] == version
    assert inputs["repositoryOpts"] == {"repo": repo}
    assert inputs["namespace"] == namespace


def test_istio_installs_in_order(prod):
    base, istiod, gateway = (release(prod, n) for n in ("istio-base", "istiod", "istio-ingressgateway"))
    webhook_rule = prod.one(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "-eks-node-from-control-plane-15017-in"
    )
    assert {base.urn, webhook_rule.urn} <= set(istiod.depends_on)
    assert istiod.urn in gateway.depends_on
    for deployment in k8s(prod, "Deployment"):
        assert istiod.urn in deployment.depends_on, "pods created before istiod start without a sidecar"
    assert istiod.inputs["values"]["autoscaleMin"] == 2
    assert istiod.inputs["values"]["meshConfig"]["defaultConfig"] == {"holdApplicationUntilProxyStarts": True}
    annotations = gateway.inputs["values"]["service"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-subnets"] == ",".join(
        prod.outputs["privateSubnetIds"]
    )
    assert gateway.inputs["values"]["autoscaling"]["minReplicas"] == 2


# -- mesh policy -------------------------------------------------------------------------
def test_namespaces_and_their_labels(prod):
    labels = {r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"] for r in k8s(prod, "Namespace")}
    assert set(labels) == {
        "mindflow",
        "mindflow-monitoring",
        "external-secrets-system",
        "istio-system",
        "istio-ingress",
    }
    assert labels["mindflow"]["istio-injection"] == "enabled"
    assert labels["mindflow-monitoring"]["istio-injection"] == "disabled"
    assert labels["external-secrets-system"]["istio-injection"] == "disabled"
    assert "istio-injection" not in labels["istio-ingress"]


def test_mtls_is_strict_in_the_application_namespace(prod):
    (policy,) = k8s(prod, "PeerAuthentication")
    assert policy.inputs["metadata"] == {"name": "default", "namespace": "mindflow"}
    assert policy.inputs["spec"] == {"mtls": {"mode": "STRICT"}}
    assert release(prod, "istiod").urn in policy.depends_on


def test_default_destination_rule_limits_connections_and_ejects_outliers(prod):
    rule = one_k8s(prod, "DestinationRule", "default", "mindflow")
    spec = rule.inputs["spec"]
    assert spec["host"] == "*.mindflow.svc.cluster.local"
    assert spec["trafficPolicy"]["tls"] == {"mode": "ISTIO_MUTUAL"}
    assert spec["trafficPolicy"]["connectionPool"]["tcp"]["maxConnections"] == 100
    assert spec["trafficPolicy"]["connectionPool"]["http"]["http1MaxPendingRequests"] == 100
    assert spec["trafficPolicy"]["outlierDetection"] == {
        "consecutive5xxErrors": 5,
        "interval": "30s",
        "baseEjectionTime": "30s",
        "maxEjectionPercent": 50,
    }


def test_virtual_services_carry_each_services_timeout_and_retries(prod):
    api = one_k8s(prod, "VirtualService", "api", "mindflow").inputs["spec"]
    assert api["hosts"] == ["api.mindflow.svc.cluster.local"]
    (route,) = api["http"]
    assert route["timeout"] == "15s"
    assert route["retries"] == {
        "attempts": 2,
        "perTryTimeout": "5s",
        "retryOn": "connect-failure,refused-stream,unavailable,cancelled,503",
    }
    assert route["route"] == [{"destination": {"host": "api.mindflow.svc.cluster.local", "port": {"number": 8080}}}]
    (worker_route,) = one_k8s(prod, "VirtualService", "worker", "mindflow").inputs["spec"]["http"]
    assert worker_route["timeout"] == "60s"
    assert worker_route["retries"] == {"attempts": 0}


def test_gateway_routes_only_services_with_a_gateway_path(prod):
    gateway = one_k8s(prod, "Gateway", "mindflow", "mindflow").inputs["spec"]
    assert gateway["selector"] == {"istio": "ingressgateway"}
    routes = one_k8s(prod, "VirtualService", "mindflow-gateway", "mindflow").inputs["spec"]
    assert routes["gateways"] == ["mindflow/mindflow"]
    assert [(r["name"], r["match"]) for r in routes["http"]] == [("api", [{"uri": {"prefix": "/"}}])]


# -- observability ----------------------------------------------------------------------
def test_prometheus_keeps_15_days_on_a_volume_in_prod(prod, staging):
    spec = release(prod, "kube-prometheus-stack").inputs["values"]["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "15d"
    assert spec["retentionSize"] == "45GB"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3"
    assert claim["resources"] == {"requests": {"storage": "50Gi"}}
    staging_spec = release(staging, "kube-prometheus-stack").inputs["values"]["prometheus"]["prometheusSpec"]
    assert staging_spec["retention"] == "15d"
    assert "storageSpec" not in staging_spec
    storage_class = one_k8s(prod, "StorageClass", "gp3")
    assert storage_class.inputs["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert storage_class.inputs["provisioner"] == "ebs.csi.aws.com"


def test_grafana_admin_password_is_generated_and_secret(prod):
    values = release(prod, "kube-prometheus-stack").inputs["values"]
    assert values["grafana"]["admin"] == {
        "existingSecret": "grafana-admin",
        "userKey": "admin-user",
        "passwordKey": "admin-password",
    }
    secret = one_k8s(prod, "Secret", "grafana-admin", "mindflow-monitoring")
    password = prod.one("random:index/randomPassword:RandomPassword", "-grafana-admin")
    assert password.inputs["length"] == 32
    assert secret.inputs["stringData"]["admin-password"] == password.state["result"]
    assert "stringData" in secret.secret_inputs
    provider = prod.one("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_inputs


def test_envoy_metrics_are_scraped_from_the_application_namespace(prod):
    monitor = one_k8s(prod, "PodMonitor", "envoy-stats", "mindflow-monitoring").inputs["spec"]
    assert monitor["namespaceSelector"] == {"matchNames": ["mindflow"]}
    assert monitor["podMetricsEndpoints"] == [
        {"port": "http-envoy-prom", "path": "/stats/prometheus", "interval": "30s"}
    ]


def test_tracing_sends_mesh_traces_to_xray():
    run = variant()
    collector = release(run, "otel-collector")
    assert collector.inputs["chart"] == "opentelemetry-collector"
    assert collector.inputs["version"] == "0.155.0"
    assert collector.inputs["values"]["config"]["exporters"] == {"awsxray": {"region": "us-east-1"}}
    (xray,) = documents(run.one("aws:iam/rolePolicy:RolePolicy", "-eks-otel-xray"), "policy")
    assert sorted(xray["Action"]) == [
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ]
    mesh = release(run, "istiod").inputs["values"]["meshConfig"]
    assert mesh["defaultProviders"] == {"tracing": ["otel"]}
    assert mesh["extensionProviders"][0]["opentelemetry"] == {
        "service": "otel-collector.mindflow-monitoring.svc.cluster.local",
        "port": 4317,
    }
    egress = one_k8s(run, "NetworkPolicy", "mesh-egress", "mindflow").inputs["spec"]["egress"]
    assert any(rule.get("ports") == [{"protocol": "TCP", "port": 4317}] for rule in egress)


def test_no_tracing_release_unless_asked(prod):
    names = {r.inputs["name"] for r in prod.of_type("kubernetes:helm.sh/v3:Release")}
    assert "otel-collector" not in names


# -- workloads ---------------------------------------------------------------------------
PROD_SERVICES = {
    # name: (image, port, replicas, cpu, memory, hpa (min, max, %), pdb minAvailable)
    "api": ("flowbuilder-prod/api:1.0.0", 8080, 3, "500m", "1Gi", (3, 8, 70), 2),
    "worker": ("flowbuilder-prod/worker:1.0.0", 8080, 2, "500m", "1Gi", (2, 6, 75), 1),
}


@pytest.mark.parametrize("name", sorted(PROD_SERVICES))
def test_each_service_gets_a_hardened_deployment(prod, name):
    image, port, replicas, cpu, memory, _, _ = PROD_SERVICES[name]
    deployment = one_k8s(prod, "Deployment", name, "mindflow")
    spec = deployment.inputs["spec"]
    assert spec["replicas"] == replicas
    assert "spec.replicas" in deployment.ignore_changes, "the HPA owns the replica count"
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == name
    app = container(deployment)
    assert app["image"] == f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/{image}"
    assert app["resources"] == {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}
    assert app["ports"] == [{"name": "http", "containerPort": port}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert app[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert app["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert app["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    zones = [c["topologyKey"] for c in pod["topologySpreadConstraints"]]
    assert "topology.kubernetes.io/zone" in zones


@pytest.mark.parametrize("name", sorted(PROD_SERVICES))
def test_each_service_gets_service_hpa_and_pdb(prod, name):
    _, port, _, _, _, (low, high, percent), min_available = PROD_SERVICES[name]
    service = one_k8s(prod, "Service", name, "mindflow").inputs["spec"]
    assert service["type"] == "ClusterIP"
    assert service["selector"] == {"app": name}
    assert service["ports"] == [{"name": "http", "port": port, "targetPort": "http", "appProtocol": "http"}]
    hpa = one_k8s(prod, "HorizontalPodAutoscaler", name, "mindflow")
    assert hpa.type == "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
    assert hpa.inputs["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert (hpa.inputs["spec"]["minReplicas"], hpa.inputs["spec"]["maxReplicas"]) == (low, high)
    (metric,) = hpa.inputs["spec"]["metrics"]
    assert metric == {
        "type": "ContainerResource",
        "containerResource": {
            "container": name,
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": percent},
        },
    }
    pdb = one_k8s(prod, "PodDisruptionBudget", name, "mindflow")
    assert pdb.type == "kubernetes:policy/v1:PodDisruptionBudget"
    assert pdb.inputs["spec"] == {"minAvailable": min_available, "selector": {"matchLabels": {"app": name}}}


def test_a_fully_qualified_image_is_used_as_given():
    worker = one_k8s(variant(), "Deployment", "worker", "mindflow")
    assert container(worker)["image"] == PINNED_IMAGE


def _peer(rule: dict[str, Any], key: str) -> tuple[str, dict[str, str]]:
    (peer,) = rule[key]
    return peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"], peer["podSelector"].get(
        "matchLabels", {}
    )


def test_application_namespace_denies_by_default(prod):
    deny = one_k8s(prod, "NetworkPolicy", "default-deny", "mindflow").inputs["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    egress = one_k8s(prod, "NetworkPolicy", "mesh-egress", "mindflow").inputs["spec"]
    assert egress["podSelector"] == {}
    assert egress["policyTypes"] == ["Egress"]
    rules = egress["egress"]
    dns, control_plane, peers, outside = rules
    assert _peer(dns, "to") == ("kube-system", {"k8s-app": "kube-dns"})
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert _peer(control_plane, "to") == ("istio-system", {"app": "istiod"})
    assert control_plane["ports"] == [{"protocol": "TCP", "port": 15012}]
    assert peers == {"to": [{"podSelector": {}}]}
    assert outside["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]
    assert outside["ports"] == [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 5432}]


def test_service_ingress_allows_gateway_peers_and_prometheus_only(prod):
    api = one_k8s(prod, "NetworkPolicy", "api", "mindflow").inputs["spec"]
    assert api["podSelector"] == {"matchLabels": {"app": "api"}}
    assert api["policyTypes"] == ["Ingress"]
    allowed = {_peer(rule, "from")[0]: (_peer(rule, "from")[1], rule["ports"]) for rule in api["ingress"]}
    assert allowed == {
        "istio-ingress": ({"istio": "ingressgateway"}, [{"protocol": "TCP", "port": 8080}]),
        "mindflow": ({}, [{"protocol": "TCP", "port": 8080}]),
        "mindflow-monitoring": (
            {"app.kubernetes.io/name": "prometheus"},
            [{"protocol": "TCP", "port": 15090}, {"protocol": "TCP", "port": 15020}],
        ),
    }
    worker = one_k8s(prod, "NetworkPolicy", "worker", "mindflow").inputs["spec"]
    namespaces = {_peer(rule, "from")[0] for rule in worker["ingress"]}
    assert namespaces == {"mindflow", "mindflow-monitoring"}, (
        "a service without gatewayPath is not reachable from the gateway"
    )


# -- service config rules ------------------------------------------------------------------
SERVICE = {
    "name": "api",
    "image": "flowbuilder-prod/api:1.0.0",
    "port": 8080,
    "replicas": 2,
    "cpu": "250m",
    "memory": "512Mi",
    "hpa": {"min": 2, "max": 4, "cpuPercent": 70},
    "pdb": {"minAvailable": 1},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pdb": {"minAvailable": 2}}, "must be below hpa.min"),
        ({"hpa": {"min": 3, "max": 2, "cpuPercent": 70}}, "2 must be at least hpa.min"),
        ({"replicas": 5}, r"need hpa.min \(2\) <= replicas \(5\) <= hpa.max \(4\)"),
        ({"image": "flowbuilder-prod/api:latest"}, "not :latest"),
        ({"image": "flowbuilder-prod/api"}, "must be a pinned image"),
    ],
)
def test_service_config_rejects_unsafe_values(change, message):
    with pytest.raises(ValidationError, match=message):
        ServiceConfig.model_validate({**SERVICE, **change})


def test_service_defaults():
    service = ServiceConfig.model_validate(SERVICE)
    assert (service.health_path, service.timeout_seconds, service.retries, service.gateway_path, service.spot) == (
        "/health",
        15,
        2,
        None,
        False,
    )


def test_service_names_must_be_unique():
    eks = defaults_for(Environment.PROD, Topology.STANDARD)["eks"]
    with pytest.raises(ValidationError, match=r"\'api\' is already used by services\[0\]"):
        EksConfig.model_validate({**eks, "services": [SERVICE, SERVICE]})
