"""The policy pack's verdict as a section of the preview (the rules run offline by :mod:`policy.offline`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from pulumi_policy import EnforcementLevel, Policy

from policy.offline import Finding
from policy.rules import POLICIES


def policy_section(findings: list[Finding], policies: Iterable[Policy] = POLICIES) -> dict[str, Any]:
    """The ``policy`` section of the offline preview's report (plain data), violations first."""
    rules = list(policies)
    return {
        "pack": "flowbuilder",
        "rules": len(rules),
        "mandatory_rules": sum(1 for p in rules if p.enforcement_level is EnforcementLevel.MANDATORY),
        "violations": sum(1 for f in findings if f.mandatory),
        "advisories": sum(1 for f in findings if not f.mandatory),
        "findings": [
            asdict(f) for f in sorted(findings, key=lambda f: (not f.mandatory, f.rule, f.name, f.urn, f.message))
        ],
    }
