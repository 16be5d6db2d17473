"""Backups: AWS Backup of what carries the stack's ``backup-plan`` tag, copied to a second region."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig.model import BackupsConfig

from .context import StackContext
from .iam import service_role
from .watch import Alarm, Metric, MissingData, Severity, Watch

BACKUP_PLAN_TAG = "backup-plan"
"""The tag whose value (the stack prefix) selects a resource into the stack's plan."""
DAILY_SCHEDULE = "cron(0 5 ? * * *)"
"""05:00 UTC: after RDS's backup window (03:00-04:00) and Sunday maintenance (04:00-05:00)."""
WEEKLY_SCHEDULE = "cron(0 5 ? * SUN *)"
START_WINDOW_MINUTES = 60
COMPLETION_WINDOW_MINUTES = 480
KEY_DELETION_WINDOW_DAYS = 30
MANAGED_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)
BACKUP_SERVICE = "backup.amazonaws.com"


@dataclass
class BackupsArgs:
    """Inputs of :class:`Backups`."""

    context: StackContext
    """Its ``tags`` (the stack provider's default tags) are repeated on the copy region's provider."""
    backups: BackupsConfig


class Backups(pulumi.ComponentResource):
    """AWS Backup for the stack: a vault here, a copy vault in ``backups.copyRegion``, one plan.

    Creates:

    * the KMS key ``<name>-backups`` (rotation on) and the vault ``<prefix>-backups`` it encrypts;
      with ``backups.vaultLock.enabled`` (off by default) a compliance Vault Lock of
      ``minRetentionDays``/``maxRetentionDays`` that becomes permanent after ``changeableForDays``;
    * a provider for ``backups.copyRegion`` (default us-west-2) with the stack's default tags, and
      there the key ``<name>-backups-copy`` and the vault ``<prefix>-backups-copy``;
    * the plan ``<prefix>-backups``: ``daily`` at 05:00 UTC kept ``dailyRetentionDays`` (30) and
      ``weekly`` on Sundays kept ``weeklyRetentionDays`` (84), each copied to the copy vault and
      kept there as long;
    * the role ``<name>-backup`` (permissions boundary; AWS managed policies
      AWSBackupServiceRolePolicyForBackup/ForRestores and the S3 backup/restore ones);
    * the selection ``<prefix>-tagged``: every resource tagged ``backup-plan = <prefix>`` (the RDS
      instance; an uploads bucket carrying the tag joins without a change here).

    ``watch``: any failed backup job or copy job in the stack's vault (through the alert topic).
    """

    vault_name: pulumi.Output[str]
    copy_vault_name: pulumi.Output[str]
    plan_id: pulumi.Output[str]
    tag: dict[str, str]
    """The tag a resource carries to be backed up by this plan."""
    watch: Watch

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Backups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context, backups = args.context, args.backups
        self.tag = {BACKUP_PLAN_TAG: context.prefix}

        key = vault_key(f"{name}-backups", f"{context.prefix} AWS Backup vault", child)
        vault = aws.backup.Vault(
            f"{name}-backups",
            name=context.name("backup-vault", "backups"),
            kms_key_arn=key.arn,
            opts=child,
        )
        lock = backups.vault_lock
        if lock.enabled:
            aws.backup.VaultLockConfiguration(
                f"{name}-backups-lock",
                backup_vault_name=vault.name,
                min_retention_days=lock.min_retention_days,
                max_retention_days=lock.max_retention_days,
                changeable_for_days=lock.changeable_for_days,
                opts=child,
            )

        copy_provider = aws.Provider(
            f"{name}-copy-region",
            region=backups.copy_region,
            default_tags=aws.ProviderDefaultTagsArgs(tags=dict(context.tags)),
            opts=child,
        )
        in_copy_region = pulumi.ResourceOptions(parent=self, provider=copy_provider)
        copy_key = vault_key(
            f"{name}-backups-copy", f"{context.prefix} AWS Backup copy vault ({backups.copy_region})", in_copy_region
        )
        copy_vault = aws.backup.Vault(
            f"{name}-backups-copy",
            name=context.name("backup-vault", "backups-copy"),
            kms_key_arn=copy_key.arn,
            opts=in_copy_region,
        )

        def rule(rule_name: str, schedule: str, keep_days: int) -> aws.backup.PlanRuleArgs:
            return aws.backup.PlanRuleArgs(
                rule_name=rule_name,
                target_vault_name=vault.name,
                schedule=schedule,
                start_window=START_WINDOW_MINUTES,
                completion_window=COMPLETION_WINDOW_MINUTES,
                lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=keep_days),
                copy_actions=[
                    aws.backup.PlanRuleCopyActionArgs(
                        destination_vault_arn=copy_vault.arn,
                        lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(delete_after=keep_days),
                    )
                ],
                recovery_point_tags={"stack": context.stack, "rule": rule_name},
            )

        plan = aws.backup.Plan(
            f"{name}-backups",
            name=context.name("backup-vault", "backups"),
            rules=[
                rule("daily", DAILY_SCHEDULE, backups.daily_retention_days),
                rule("weekly", WEEKLY_SCHEDULE, backups.weekly_retention_days),
            ],
            opts=child,
        )
        role = service_role(
            f"{name}-backup", context, BACKUP_SERVICE, f"AWS Backup for {context.prefix}: back up and restore", child
        )
        for policy in MANAGED_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-backup-{policy.rsplit('/', 1)[-1].removeprefix('AWSBackupServiceRolePolicy').lower()}",
                role=role.name,
                policy_arn=f"arn:{context.account.partition}:iam::aws:policy/{policy}",
                opts=child,
            )
        aws.backup.Selection(
            f"{name}-tagged",
            name=context.name("backup-vault", "tagged"),
            plan_id=plan.id,
            iam_role_arn=role.arn,
            selection_tags=[
                aws.backup.SelectionSelectionTagArgs(type="STRINGEQUALS", key=BACKUP_PLAN_TAG, value=context.prefix)
            ],
            # Every field of a selection is replace-only and its name is unique in the plan; deleting
            # the old one first only skips backups for the seconds the new one takes to appear.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(delete_before_replace=True)),
        )

        self.vault_name = vault.name
        self.copy_vault_name = copy_vault.name
        self.plan_id = plan.id
        self.watch = backup_watch(vault.name)
        self.register_outputs(
            {"vault_name": self.vault_name, "copy_vault_name": self.copy_vault_name, "plan_id": self.plan_id}
        )


def vault_key(name: str, description: str, opts: pulumi.ResourceOptions) -> aws.kms.Key:
    """A customer managed key for one vault: a copy or restore keeps working while it exists."""
    return aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        opts=opts,
    )


def failed_jobs_alarm(key: str, metric: str, what: str, vault_name: pulumi.Input[str]) -> Alarm:
    return Alarm(
        key,
        severity=Severity.CRITICAL,
        summary=f"An AWS Backup {what} failed: the day's recovery point may be missing.",
        runbook=(
            f"AWS Backup console -> Jobs -> {what}s, status Failed: read the status message, fix, "
            "then start an on-demand backup of the resource (docs/backups.md)."
        ),
        metric=Metric("AWS/Backup", metric, {"BackupVaultName": vault_name}),
        statistic="Sum",
        comparison="GreaterThanThreshold",
        threshold=0,
        evaluation_periods=1,
        treat_missing_data=MissingData.NOT_BREACHING,
        essential=True,
    )


def backup_watch(vault_name: pulumi.Input[str]) -> Watch:
    return Watch(
        alarms=(
            failed_jobs_alarm("backup-jobs-failed", "NumberOfBackupJobsFailed", "backup job", vault_name),
            failed_jobs_alarm("backup-copy-jobs-failed", "NumberOfCopyJobsFailed", "copy job", vault_name),
        )
    )
