"""ExternalDatabase: the zero-scale stack's external PostgreSQL, known only by its URL secret."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..context import StackContext
from ..iam import statement
from ..secrets import secret
from .connection import SECRET_KIND_URL, ContainerSecret, DatabaseConnection


@dataclass
class ExternalDatabaseArgs:
    """Inputs of :class:`ExternalDatabase`."""

    context: StackContext
    url: pulumi.Output[str] | None
    """``externalDatabaseUrl`` as a Pulumi secret (``StackSecrets.external_database_url``), or None when unset."""


class ExternalDatabase(pulumi.ComponentResource):
    """The one secret zero-scale clients read to reach their external PostgreSQL.

    Creates the Secrets Manager secret ``<name>-database-url``. Its value is written only when
    ``externalDatabaseUrl`` is set as a Pulumi secret; otherwise the secret is created empty, and a
    value put into it by hand is never overwritten. Clients get the URL by reference only: an ECS
    secret ``DATABASE_URL``, or the secret's ARN to read it themselves.
    """

    connection: DatabaseConnection

    def __init__(self, name: str, args: ExternalDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:ExternalDatabase", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        url_secret = secret(
            f"{name}-database-url",
            args.context,
            description=f"{name}: connection URL of the external PostgreSQL database (postgresql scheme)",
            opts=child,
        )
        if args.url is None:
            pulumi.log.warn(
                "externalDatabaseUrl is not set: the database URL secret is created empty and tasks cannot "
                "start until it holds a value (see docs/database.md)",
                resource=self,
            )
        else:
            # Declared only when the config holds the URL: without this resource Pulumi never
            # writes the secret's value, so a value put by hand survives every `pulumi up`.
            aws.secretsmanager.SecretVersion(
                f"{name}-database-url", secret_id=url_secret.id, secret_string=args.url, opts=child
            )
        self.connection = DatabaseConnection(
            secret_arn=url_secret.arn,
            secret_kind=SECRET_KIND_URL,
            environment={"DB_SECRET_ARN": url_secret.arn, "DB_SECRET_KIND": SECRET_KIND_URL},
            container_secrets=(ContainerSecret("DATABASE_URL", url_secret.arn),),
            # Nobody rotates this secret; a function reads it by ARN, a task gets it injected.
            grants=(statement(["secretsmanager:GetSecretValue"], [url_secret.arn], sid="ReadDatabaseSecret"),),
        )
        self.register_outputs({"secret_arn": url_secret.arn})
