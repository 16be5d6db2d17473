"""The flowbuilder policy pack: ``pulumi preview --policy-pack policy``.

Only assembles the pack; the rules are in :mod:`rules` (see docs/policy.md).
A rule's own enforcement level wins; the pack default only applies to a rule
that names none, and then fails closed.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES

PolicyPack(name="flowbuilder", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
