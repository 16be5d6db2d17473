"""The Kubernetes layer: what the ``flowbuilder-mesh`` project (``mesh/``) installs on the base stack's cluster."""

from .istio import IstioMesh, IstioMeshArgs
from .karpenter import Karpenter, KarpenterArgs
from .observability import Observability, ObservabilityArgs
from .platform import CHARTS, ClusterInfo, MeshContext, Namespaces, NamespacesArgs
from .secrets import ExternalSecrets, ExternalSecretsArgs
from .service import MeshGateway, MeshGatewayArgs, MeshService, MeshServiceArgs

__all__ = [
    "CHARTS",
    "ClusterInfo",
    "ExternalSecrets",
    "ExternalSecretsArgs",
    "IstioMesh",
    "IstioMeshArgs",
    "Karpenter",
    "KarpenterArgs",
    "MeshContext",
    "MeshGateway",
    "MeshGatewayArgs",
    "MeshService",
    "MeshServiceArgs",
    "Namespaces",
    "NamespacesArgs",
    "Observability",
    "ObservabilityArgs",
]
