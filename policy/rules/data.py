"""Cache and backups: ElastiCache encrypted and authenticated, prod databases in a backup plan."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from ._support import UNKNOWN, StackView, Subject, peek, resource_rule, stack_rule

REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SERVERLESS_CACHE = "aws:elasticache/serverlessCache:ServerlessCache"
CACHE_USER = "aws:elasticache/user:User"
RDS_INSTANCE = "aws:rds/instance:Instance"
BACKUP_SELECTION = "aws:backup/selection:Selection"
BACKUP_PLAN = "aws:backup/plan:Plan"


def _cache_encryption(cache: Subject) -> Iterator[str]:
    # Serverless caches are always encrypted at rest and in transit; only node-based ones can opt out.
    if cache.get("atRestEncryptionEnabled") is not True:
        yield "atRestEncryptionEnabled must be true (it can only be set when the cache is created)"
    if cache.get("transitEncryptionEnabled") is not True:
        yield "transitEncryptionEnabled must be true: the cache carries rate limits and job state"
    elif cache.get("transitEncryptionMode") == "preferred":
        yield "transitEncryptionMode is 'preferred', which still admits plain-text clients; set 'required'"


def _cache_authentication(cache: Subject) -> Iterator[str]:
    if cache.type == SERVERLESS_CACHE:
        if not cache.get("userGroupId"):
            yield "no userGroupId: a serverless cache without a user group lets every client in as 'default'"
    elif not cache.get("userGroupIds") and not cache.get("authToken"):
        yield "neither userGroupIds nor authToken: every client that reaches port 6379 gets full access"


def _cache_user_authenticates(user: Subject) -> Iterator[str]:
    mode = user.get("authenticationMode", "type", default=None)
    if user.get("noPasswordRequired") is True or mode == "no-password-required":
        yield "the user needs no password; use authenticationMode {type: iam}"


def _selects(stack: StackView, selection, instance) -> bool:
    """Whether ``selection`` (of a plan in this stack) picks ``instance`` by tag or by ARN."""
    tags = peek(instance.props, "tags") or {}
    for tag in peek(selection.props, "selectionTags") or []:
        if (
            isinstance(tags, dict)
            and tag.get("type") == "STRINGEQUALS"
            and tags.get(tag.get("key")) == tag.get("value")
        ):
            return True
    return stack.references(selection, "resources", instance, "arn")


def _selected(stack: StackView, instance) -> bool:
    plans = stack.of_type(BACKUP_PLAN)
    return any(
        any(stack.references(selection, "planId", plan, "id", "name") for plan in plans)
        and _selects(stack, selection, instance)
        for selection in stack.of_type(BACKUP_SELECTION)
    )


def _prod_databases_backed_up(stack: StackView) -> Iterator[tuple[str, str | None]]:
    if not stack.facts.is_prod:
        return
    for instance in stack.of_type(RDS_INSTANCE):
        if peek(instance.props, "replicateSourceDb") not in (None, "", UNKNOWN):
            continue
        if not _selected(stack, instance):
            yield (
                "this prod database is in no AWS Backup plan: nothing outside the instance's own automated "
                "backups (deleted with it, same region) could restore it",
                instance.urn,
            )


CACHES = (REPLICATION_GROUP, SERVERLESS_CACHE)

POLICIES = [
    resource_rule(
        "cache-encryption",
        "ElastiCache caches must be encrypted at rest and require TLS in transit.",
        (REPLICATION_GROUP,),
        _cache_encryption,
        mandatory=True,
        remediation="Set at_rest_encryption_enabled, transit_encryption_enabled, transit_encryption_mode='required'.",
        tags=["elasticache", "encryption"],
        severity=Severity.HIGH,
    ),
    resource_rule(
        "cache-authentication",
        "ElastiCache caches must authenticate every client (a user group, or at least an AUTH token).",
        CACHES,
        _cache_authentication,
        mandatory=True,
        remediation="Give the cache a user group whose users authenticate with IAM (components/cache.py).",
        tags=["elasticache", "authentication"],
        severity=Severity.CRITICAL,
    ),
    resource_rule(
        "cache-user-authenticates",
        "ElastiCache users must authenticate (IAM or password), never 'no password required'.",
        (CACHE_USER,),
        _cache_user_authenticates,
        mandatory=True,
        remediation="Set authentication_mode type 'iam'.",
        tags=["elasticache", "authentication"],
        severity=Severity.CRITICAL,
    ),
    stack_rule(
        "prod-database-backup-plan",
        "Every prod RDS database must be selected by an AWS Backup plan.",
        _prod_databases_backed_up,
        mandatory=True,
        remediation="Keep backups.enabled: true in prod; Database tags the instance backup-plan=<prefix>.",
        tags=["rds", "backup"],
    ),
]
