"""Flow Builder's Kubernetes layer: read the stack's validated config and the base stack, wire the mesh.

Runs after the base project (``flowbuilder``) of the same stack, on the stack's in-VPC
runner (the cluster endpoint is private). It reads the same ``Pulumi.<stack>.yaml``
(``stackConfigDir: ..``, namespace ``flowbuilder:``) and the base stack's outputs through
the StackReference ``<organization>/flowbuilder/<stack>``: the organization is the one
this stack lives in (``pulumi.get_organization()``: the Pulumi Cloud organization, and
``organization`` on a self-managed backend, which is what such a backend calls every
project's organization). It declares no AWS resource and no IAM: the AWS side (cluster,
node role, interruption queue, Pod Identity associations) is the base stack's.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The language host puts mesh/ on the path; the components live at the repository root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402
import pulumi_kubernetes as k8s  # noqa: E402

from components.mesh import (  # noqa: E402
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
from components.mesh.platform import APP_NAMESPACE, kubeconfig  # noqa: E402
from stackconfig import ConfigError, StandardStackConfig, load_stack_config  # noqa: E402

BASE_PROJECT = "flowbuilder"

stack = pulumi.get_stack()
config, _ = load_stack_config(BASE_PROJECT, stack)
if not isinstance(config, StandardStackConfig) or not config.eks.enabled:
    raise ConfigError(
        f"Pulumi.{stack}.yaml: stack {stack} has no cluster for the mesh project (the mesh needs topology: "
        "standard and flowbuilder:eks.enabled: true); run only the base project here, or enable the mesh and "
        "update the base stack first"
    )

base = pulumi.StackReference(f"{pulumi.get_organization() or 'organization'}/{BASE_PROJECT}/{stack}")
cluster = ClusterInfo.of(base.require_output("eks"))
repositories = base.require_output("repositoryUrls")
provider = k8s.Provider(
    f"{config.name_prefix}-mesh",
    kubeconfig=kubeconfig(cluster),
    enable_server_side_apply=True,
)
context = MeshContext.of(config, provider, cluster)
name = context.prefix
eks = config.eks

namespaces = Namespaces(name, NamespacesArgs(context, tracing=eks.tracing.enabled))
karpenter = Karpenter(name, KarpenterArgs(context, eks.node_pools))
pools = list(karpenter.node_pools.values())
istio = IstioMesh(
    name,
    IstioMeshArgs(context, namespaces, eks.tracing, private_subnet_ids=cluster.private_subnet_ids, after=pools),
)
secrets = ExternalSecrets(name, ExternalSecretsArgs(context, namespaces, after=pools))
observability = Observability(name, ObservabilityArgs(context, namespaces, eks, after=pools))

app_ready = [istio.istiod, namespaces.namespaces[APP_NAMESPACE]]
services: list[tuple] = []
awaiting: dict[str, str] = {}
for service in eks.services:
    digest = getattr(config.images, service.image.value)
    if digest is None:
        # First deploy: the image is not released yet, so the service waits for its digest.
        awaiting[service.name] = f"flowbuilder:images.{service.image.value} has no digest yet"
        continue
    deployed = MeshService(
        f"{name}-{service.name}",
        MeshServiceArgs(
            context,
            service,
            repository_url=repositories.apply(lambda urls, image=service.image.value: urls[image]),
            digest=digest,
            after=app_ready,
            secret_store=secrets.store,
        ),
    )
    services.append((service, deployed))
exposed = [(service, deployed) for service, deployed in services if service.gateway_path]
if exposed:
    MeshGateway(name, MeshGatewayArgs(context, exposed, after=[istio.gateway, *app_ready]))

pulumi.export("nodePools", sorted(karpenter.node_pools))
pulumi.export("services", sorted(service.name for service, _ in services))
if awaiting:
    pulumi.export("servicesAwaitingImages", awaiting)
pulumi.export("grafanaAdminSecret", observability.grafana_admin_secret)
