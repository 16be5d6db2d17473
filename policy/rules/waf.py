"""WAF: a web ACL protects something, logs without credentials; load balancers outside dev sit behind one."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from ._support import UNKNOWN, StackView, Subject, peek, resource_rule, stack_rule

WEB_ACLS = ("aws:wafv2/webAcl:WebAcl",)
ASSOCIATIONS = ("aws:wafv2/webAclAssociation:WebAclAssociation",)
LOGGING = ("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",)
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer",)
CREDENTIAL_HEADERS = ("authorization", "cookie")


def _associated(stack: StackView) -> Iterator[tuple[str, str | None]]:
    associations = stack.of_type(*ASSOCIATIONS)
    for acl in stack.of_type(*WEB_ACLS):
        if peek(acl.props, "scope") == "CLOUDFRONT":
            continue
        if not any(stack.references(item, "webAclArn", acl, "arn") for item in associations):
            yield f"web ACL {acl.name} is associated with nothing: it costs $5 a month and protects nothing", acl.urn


def _load_balancer_behind_waf(stack: StackView) -> Iterator[tuple[str, str | None]]:
    if stack.facts.is_dev:
        return
    associations = stack.of_type(*ASSOCIATIONS)
    for lb in stack.of_type(*LOAD_BALANCERS):
        if peek(lb.props, "internal") is True or peek(lb.props, "loadBalancerType", default="application") != (
            "application"
        ):
            continue
        if not any(stack.references(item, "resourceArn", lb, "arn", "id") for item in associations):
            yield (
                f"the internet-facing load balancer {lb.name} of {stack.facts.describe()} has no WAF web ACL",
                lb.urn,
            )


def _redacts_credentials(logging: Subject) -> Iterator[str]:
    fields = logging.peek("redactedFields", default=[])
    if fields is UNKNOWN:
        return
    redacted = {
        str(field.get("singleHeader", {}).get("name", "")).lower() for field in fields if isinstance(field, dict)
    }
    missing = [header for header in CREDENTIAL_HEADERS if header not in redacted]
    if missing:
        yield f"WAF logs would carry the {', '.join(missing)} header(s); redact them (redactedFields.singleHeader)"


POLICIES = [
    stack_rule(
        "waf-associated",
        "A regional WAF web ACL must be associated with the resource it was made for.",
        _associated,
        mandatory=True,
        remediation="Add an aws.wafv2.WebAclAssociation of the web ACL with the load balancer.",
        tags=["waf"],
        severity=Severity.MEDIUM,
    ),
    stack_rule(
        "waf-on-public-load-balancers",
        "An internet-facing load balancer outside dev should sit behind a WAF web ACL.",
        _load_balancer_behind_waf,
        mandatory=False,
        remediation="Leave flowbuilder:waf.enabled at its staging/prod default (true).",
        tags=["waf", "alb"],
    ),
    resource_rule(
        "waf-logs-redact-credentials",
        "WAF logging must redact the authorization and cookie headers.",
        LOGGING,
        _redacts_credentials,
        mandatory=True,
        remediation="List both headers under redacted_fields (single_header) of the logging configuration.",
        tags=["waf", "logging"],
    ),
]
