"""Backups: prod's database in an AWS Backup plan, daily and weekly, copied to another region."""

from __future__ import annotations

import json
from dataclasses import replace

import pulumi

from components import Backups, BackupsArgs
from components.watch import Watch
from simulation.harness import StackRun
from stackconfig import Environment
from stackconfig.model import BackupsConfig
from tests.component_support import run_component, section

VAULT = "aws:backup/vault:Vault"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
PROVIDER = "pulumi:providers:aws"
INSTANCE = "aws:rds/instance:Instance"
TAGS = {"project": "flowbuilder", "stack": "dev", "environment": "prod"}


def backups_alone(**settings) -> tuple[StackRun, Watch]:
    built: list[Backups] = []

    def build(context) -> None:
        backups = Backups(
            context.prefix,
            BackupsArgs(replace(context, tags=TAGS), section(BackupsConfig, "backups", Environment.PROD, **settings)),
        )
        built.append(backups)
        pulumi.export("tag", backups.tag)

    run = run_component(build)
    return run, built[0].watch


def test_vaults_here_and_in_the_copy_region_each_under_its_own_rotating_key():
    run, _ = backups_alone()
    vault, copy = run.one(VAULT, "-backups"), run.one(VAULT, "-backups-copy")
    assert (vault.inputs["name"], copy.inputs["name"]) == ("flowbuilder-dev-backups", "flowbuilder-dev-backups-copy")
    keys = {key.name: key for key in run.of_type(KEY)}
    assert vault.inputs["kmsKeyArn"] == keys["flowbuilder-dev-backups"].state["arn"]
    assert copy.inputs["kmsKeyArn"] == keys["flowbuilder-dev-backups-copy"].state["arn"]
    assert all(key.inputs["enableKeyRotation"] is True for key in keys.values())
    provider = run.one(PROVIDER, "-copy-region")
    assert provider.inputs["region"] == "us-west-2"
    assert json.loads(provider.inputs["defaultTags"])["tags"] == TAGS
    for resource in (copy, keys["flowbuilder-dev-backups-copy"]):
        assert resource.provider.startswith(provider.urn)
    assert not vault.provider or not vault.provider.startswith(provider.urn)


def test_daily_kept_30_days_and_weekly_kept_84_each_copied_and_kept_as_long():
    run, _ = backups_alone()
    rules = {rule["ruleName"]: rule for rule in run.one(PLAN).inputs["rules"]}
    copy_arn = run.one(VAULT, "-backups-copy").state["arn"]
    assert set(rules) == {"daily", "weekly"}
    for name, schedule, days in (("daily", "cron(0 5 ? * * *)", 30), ("weekly", "cron(0 5 ? * SUN *)", 84)):
        rule = rules[name]
        assert (rule["schedule"], rule["targetVaultName"]) == (schedule, "flowbuilder-dev-backups")
        assert rule["lifecycle"] == {"deleteAfter": days}
        assert rule["copyActions"] == [{"destinationVaultArn": copy_arn, "lifecycle": {"deleteAfter": days}}]


def test_the_selection_takes_what_carries_the_stack_tag_through_a_bounded_backup_role():
    run, _ = backups_alone()
    selection = run.one(SELECTION).inputs
    assert selection["selectionTags"] == [{"type": "STRINGEQUALS", "key": "backup-plan", "value": "flowbuilder-dev"}]
    assert run.outputs["tag"] == {"backup-plan": "flowbuilder-dev"}
    role = run.one(ROLE)
    assert selection["iamRoleArn"] == role.state["arn"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "backup.amazonaws.com"
    }
    assert role.inputs["permissionsBoundary"].endswith(":policy/flowbuilder-permissions-boundary")
    assert sorted(a.inputs["policyArn"] for a in run.of_type(ATTACHMENT)) == [
        "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
        "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    ]


def test_vault_lock_only_when_asked():
    assert backups_alone()[0].of_type(LOCK) == []
    run, _ = backups_alone(vaultLock={"enabled": True, "minRetentionDays": 30, "maxRetentionDays": 100})
    lock = run.one(LOCK).inputs
    assert (lock["minRetentionDays"], lock["maxRetentionDays"], lock["changeableForDays"]) == (30, 100, 3)
    assert lock["backupVaultName"] == "flowbuilder-dev-backups"


def test_failed_backup_and_copy_jobs_page():
    _, watch = backups_alone()
    alarms = {alarm.key: alarm for alarm in watch.alarms}
    assert set(alarms) == {"backup-jobs-failed", "backup-copy-jobs-failed"}
    for key, metric in (
        ("backup-jobs-failed", "NumberOfBackupJobsFailed"),
        ("backup-copy-jobs-failed", "NumberOfCopyJobsFailed"),
    ):
        alarm = alarms[key]
        assert (alarm.metric.namespace, alarm.metric.name) == ("AWS/Backup", metric)
        assert (alarm.statistic, alarm.comparison, alarm.threshold) == ("Sum", "GreaterThanThreshold", 0)
        assert alarm.essential


def test_only_prod_backs_its_database_up(any_stack):
    instances = any_stack.of_type(INSTANCE)
    tagged = [
        i for i in instances if (i.inputs.get("tags") or {}).get("backup-plan") == f"flowbuilder-{any_stack.stack}"
    ]
    if any_stack.stack == "prod":
        assert len(tagged) == 1
        selection = any_stack.one(SELECTION).inputs["selectionTags"][0]
        assert (selection["key"], selection["value"]) == ("backup-plan", "flowbuilder-prod")
        assert any_stack.outputs["backupVaultName"] == "flowbuilder-prod-backups"
        assert any_stack.outputs["backupCopyVaultName"] == "flowbuilder-prod-backups-copy"
    else:
        assert tagged == [] and any_stack.of_type(PLAN) == []
