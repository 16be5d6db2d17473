"""Physical names: ``<project>-<stack>-<suffix>``, checked against AWS limits.

Each kind of name reserves a longest suffix. The config model checks the stack
prefix against every reservation before anything is declared, so a long stack
name fails with one clear error instead of an AWS rejection halfway through an
update; :func:`physical_name` refuses a suffix longer than its reservation.
"""

from __future__ import annotations

import hashlib
import json

from .aws_limits import AUTONAME_SUFFIX_LENGTH, NAME_LIMITS

# Longest suffix used for each kind, and whether Pulumi appends its random
# auto-naming suffix to it (``autonamed``).
RESERVED_SUFFIX: dict[str, tuple[int, bool]] = {
    "alb": (len("-api"), False),
    "target-group": (len("-api-") + 4, False),
    "iam-role": (len("-migrate-execution"), True),
    "lambda": (len("-migrate-runner"), False),
    "sqs": (len("-scheduler-dlq"), False),
    "ecs-cluster": (len("-cluster"), False),
    "ecs-family": (len("-migrate"), False),
    "ecs-service": (len("-worker"), False),
    "alarm": (len("-queue-oldest-message-age"), False),
    "sns": (len("-email-events"), False),
    "dashboard": (len("-overview"), False),
    "log-group": (len("/aws/ecs/containerinsights/-cluster/performance"), False),
    "rds-identifier": (len("-postgres"), False),
    "pipe": (len("-worker"), False),
    "state-machine": (len("-worker-run"), False),
    "schedule": (len("-scheduler"), False),
    "eks-cluster": (len("-mesh"), False),
    "eks-nodegroup": (len("-general-") + 4, False),
    "event-rule": (len("-karpenter-rebalance"), False),
    "codebuild-project": (len("-runner"), False),
    "s3-bucket": (len("-alb-logs-123456789012"), False),
    "budget": (len("-monthly"), False),
    "http-api": (len("-api"), False),
    "waf": (len("-api"), False),
    "ses-configuration-set": (len("-email"), False),
    "cloudfront-oac": (len("-uploads"), False),
    "cache": (len("-cache-users"), False),
    "backup-vault": (len("-backups-copy"), False),
}


FINGERPRINT_LENGTH = 4


def fingerprint(*values: object) -> str:
    """A short digest of ``values`` for a name that must change whenever they do: the name of a
    resource whose replacement (a change of these replace-only fields) creates the new one before
    deleting the old, so the two cannot share a name."""
    text = json.dumps([_plain(value) for value in values], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_LENGTH]


def _plain(value: object) -> object:
    # The engine hands numbers back as floats: 8080 and 8080.0 are one port.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def name_length_problems(prefix: str) -> list[str]:
    """Every kind whose longest name would exceed its AWS limit with this prefix."""
    problems = []
    for kind, (suffix_length, autonamed) in RESERVED_SUFFIX.items():
        longest = len(prefix) + suffix_length + (AUTONAME_SUFFIX_LENGTH if autonamed else 0)
        if longest > NAME_LIMITS[kind]:
            problems.append(f"{kind} names would be {longest} characters (limit {NAME_LIMITS[kind]})")
    return problems


def physical_name(prefix: str, kind: str, suffix: str) -> str:
    """``<prefix>-<suffix>`` for a resource of ``kind``, within its reservation."""
    reserved, _ = RESERVED_SUFFIX[kind]
    name = f"{prefix}-{suffix}"
    if len(name) - len(prefix) > reserved:
        raise ValueError(f"suffix {suffix!r} is longer than the {reserved} characters reserved for {kind} names")
    return name
