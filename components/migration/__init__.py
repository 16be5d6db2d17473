"""Migration: the release's database migration, run by ``pulumi up`` before anything rolls."""

from .component import MIGRATION_CONTAINER, RUNNER_TIMEOUT_MARGIN_SECONDS, Migration, MigrationArgs

__all__ = ["MIGRATION_CONTAINER", "RUNNER_TIMEOUT_MARGIN_SECONDS", "Migration", "MigrationArgs"]
