"""The platform's PostgreSQL: RDS in a standard stack, an external database's URL secret in zero-scale."""

from .connection import (
    APPLICATION_DB_USER,
    APPLICATION_ROLE_SQL,
    SECRET_KIND_RDS_MASTER,
    SECRET_KIND_URL,
    ContainerSecret,
    DatabaseConnection,
)
from .external import ExternalDatabase, ExternalDatabaseArgs
from .rds import Database, DatabaseArgs

__all__ = [
    "APPLICATION_DB_USER",
    "APPLICATION_ROLE_SQL",
    "SECRET_KIND_RDS_MASTER",
    "SECRET_KIND_URL",
    "ContainerSecret",
    "Database",
    "DatabaseArgs",
    "DatabaseConnection",
    "ExternalDatabase",
    "ExternalDatabaseArgs",
]
