"""Every rule of the flowbuilder policy pack, one module per domain.

Each rule is a ``pulumi_policy`` ``ResourceValidationPolicy`` (one resource, keyed
by its type token) or ``StackValidationPolicy`` (relations between resources),
whose validate function takes ``(args, report_violation)``. Mandatory rules block
``pulumi preview``/``up`` and the offline preview; advisory rules only report.
The pack's entry point (``policy/__main__.py``) assembles :data:`POLICIES`;
docs/policy.md explains each rule.
"""

from . import alb, cost, data, ecs, eks, encryption, iam, kubernetes, messaging, rds, serverless, storage, waf

POLICIES = [
    *rds.POLICIES,
    *ecs.POLICIES,
    *alb.POLICIES,
    *waf.POLICIES,
    *messaging.POLICIES,
    *encryption.POLICIES,
    *storage.POLICIES,
    *iam.POLICIES,
    *serverless.POLICIES,
    *eks.POLICIES,
    *kubernetes.POLICIES,
    *cost.POLICIES,
    *data.POLICIES,
]

__all__ = ["POLICIES"]
