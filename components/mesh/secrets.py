"""External Secrets Operator, its ClusterSecretStore for Secrets Manager, and the database ExternalSecret."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from .platform import APP_NAMESPACE, MeshContext, Namespaces, on_cluster, release

SECRET_STORE = "aws-secrets-manager"
CONTROLLER_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}
REFRESH = "1h"


@dataclass
class ExternalSecretsArgs:
    """Inputs of :class:`ExternalSecrets`: the mesh context and the namespaces."""

    context: MeshContext
    namespaces: Namespaces
    after: list[pulumi.Resource]


class ExternalSecrets(pulumi.ComponentResource):
    """External Secrets Operator (``CHARTS["external-secrets"]``) and the store it reads through.

    * the chart in ``external-secrets`` with its CRDs; the controller, webhook and cert controller
      run as the service account ``external-secrets/external-secrets``, whose AWS access is the
      base stack's Pod Identity association (it reads only the secrets the base stack names);
    * ClusterSecretStore ``aws-secrets-manager``: Secrets Manager in the stack's region, usable
      from the ``flowbuilder`` namespace only.
    """

    def __init__(self, name: str, args: ExternalSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:ExternalSecrets", name, None, opts)
        self._name = name
        context = args.context
        account_namespace, account_name = context.cluster.external_secrets_service_account.split("/", 1)
        resources = {"resources": CONTROLLER_RESOURCES}
        self.release = release(
            context,
            self,
            "external-secrets",
            namespace=args.namespaces.name_of(account_namespace),
            values={
                "installCRDs": True,
                # Pod Identity matches the association by this name; no role annotation.
                "serviceAccount": {"create": True, "name": account_name},
                **resources,
                "webhook": resources,
                "certController": resources,
            },
            depends_on=args.after,
        )
        self.store = k8s.apiextensions.CustomResource(
            f"{name}-secret-store",
            api_version="external-secrets.io/v1",
            kind="ClusterSecretStore",
            metadata={"name": SECRET_STORE},
            spec={
                # No auth block: the SDK finds the Pod Identity credentials of the controller's pod.
                "provider": {"aws": {"service": "SecretsManager", "region": context.region}},
                # Cluster-wide kind, but only the application namespace may use it.
                "conditions": [{"namespaces": [APP_NAMESPACE]}],
            },
            opts=on_cluster(context, self, [self.release]),
        )
        self.register_outputs({"store": SECRET_STORE})


def database_secret(
    context: MeshContext,
    parent: pulumi.Resource,
    service: str,
    store: pulumi.Resource,
    depends_on: list[pulumi.Resource],
) -> k8s.apiextensions.CustomResource:
    """ExternalSecret ``<service>-database``: the Secret a service's pods take their connection from.

    The pods connect as ``applicationDatabaseUser`` with IAM database authentication, so the
    Secret carries where and as whom (PGHOST, PGPORT, PGDATABASE, PGUSER, PGSSLMODE), never a
    password: the template writes only those keys. It is refreshed hourly from the database
    secret the base stack exports, so a replaced database or a removed secret shows up as a
    failing ExternalSecret (``kubectl get externalsecret``) instead of stale settings.
    """
    cluster = context.cluster
    return k8s.apiextensions.CustomResource(
        f"{parent._name}-database",
        api_version="external-secrets.io/v1",
        kind="ExternalSecret",
        metadata={"name": f"{service}-database", "namespace": APP_NAMESPACE},
        spec={
            "refreshInterval": REFRESH,
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": SECRET_STORE},
            "target": {
                "name": f"{service}-database",
                "creationPolicy": "Owner",
                "template": {
                    "type": "Opaque",
                    "data": {
                        "PGHOST": cluster.database_endpoint,
                        "PGPORT": pulumi.Output.from_input(cluster.database_port).apply(lambda port: str(int(port))),
                        "PGDATABASE": cluster.database_name,
                        "PGUSER": cluster.application_database_user,
                        "PGSSLMODE": "verify-full",
                    },
                },
            },
            # The database secret must exist and be readable; its username is the one field read.
            "data": [
                {
                    "secretKey": "masterUsername",
                    "remoteRef": {"key": cluster.database_secret_arn, "property": "username"},
                }
            ],
        },
        opts=on_cluster(context, parent, [store, *depends_on]),
    )
