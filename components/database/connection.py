"""What a client of the database receives: plain settings, and credentials only by reference."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

APPLICATION_DB_USER = "flowbuilder_app"
"""The PostgreSQL role the applications log in as, with IAM database authentication; the
migration task creates it (docs/database.md, "Application role")."""

APPLICATION_ROLE_SQL = f"""\
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APPLICATION_DB_USER}') THEN
    CREATE ROLE {APPLICATION_DB_USER} LOGIN;
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO {APPLICATION_DB_USER}', current_database());
END
$$;
GRANT rds_iam TO {APPLICATION_DB_USER};
GRANT USAGE ON SCHEMA public TO {APPLICATION_DB_USER};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APPLICATION_DB_USER};
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {APPLICATION_DB_USER};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APPLICATION_DB_USER};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {APPLICATION_DB_USER};
"""
"""What the migration runs as the master user before its own migrations (docs/database.md,
"Application role"): idempotent, so every release runs it again. ``rds_iam`` makes the role log
in with IAM tokens only; the default privileges cover the tables later migrations create."""

SECRET_KIND_RDS_MASTER = "rds-master-json"
"""The RDS-managed master secret: JSON ``{"username": ..., "password": ...}``."""
SECRET_KIND_URL = "url"
"""A plain ``postgresql://user:password@host:port/db`` string."""


@dataclass(frozen=True)
class ContainerSecret:
    """One ECS container ``secrets`` entry: ECS reads ``value_from`` when the task starts."""

    name: str
    value_from: pulumi.Input[str]

    def entry(self) -> dict[str, Any]:
        return {"name": self.name, "valueFrom": self.value_from}


@dataclass(frozen=True)
class DatabaseConnection:
    """How tasks and functions reach the database; never a credential in plain text."""

    secret_arn: pulumi.Output[str]
    """The secret clients read by reference (ECS ``valueFrom``, a Lambda reads it by ARN)."""
    secret_kind: str
    """:data:`SECRET_KIND_RDS_MASTER` or :data:`SECRET_KIND_URL`: how to read the secret."""
    environment: Mapping[str, pulumi.Input[str]]
    """Plain environment: the secret's ARN and kind, and the host, port and name where known."""
    container_secrets: tuple[ContainerSecret, ...]
    """ECS ``secrets`` entries carrying the credentials into a container (none with IAM authentication)."""
    grants: tuple[dict[str, Any], ...]
    """The policy statements a client's role needs to log in: ``rds-db:connect`` as the application
    user (standard), or reading the URL secret (zero-scale)."""
