"""ALB: TLS 1.2+ on HTTPS with HSTS, HTTP redirected, HTTPS outside dev, invalid headers dropped, prod protection."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pulumi_policy import PolicyResource, Severity

from ._support import UNKNOWN, StackView, Subject, peek, resource_rule, stack_rule
from .exceptions import excepted

LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer",)
LISTENERS = ("aws:lb/listener:Listener",)

# ELB security policies whose minimum protocol is TLS 1.2 or 1.3 (names carry the minimum:
# ELBSecurityPolicy-TLS13-1-2-..., -TLS-1-2-..., -FS-1-2-...). The API's default,
# ELBSecurityPolicy-2016-08, still accepts TLS 1.0.
TLS12_POLICY = re.compile(r"^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)-")
# The current generation: TLS 1.3 offered, nothing below 1.2 accepted.
TLS13_POLICY = re.compile(r"^ELBSecurityPolicy-TLS13-1-[23]-")
HSTS_MAX_AGE = re.compile(r"max-age=(\d+)")
HSTS_MIN_AGE_SECONDS = 300
"""Shorter than five minutes and a browser forgets HTTPS-only between two visits."""


def _application(lb: Subject | PolicyResource) -> bool:
    props = lb.props
    return peek(props, "loadBalancerType", default="application") == "application"


def _tls_policy(listener: Subject) -> Iterator[str]:
    protocol = listener.get("protocol")
    if protocol not in ("HTTPS", "TLS"):
        return
    if not listener.get("certificateArn"):
        yield f"{protocol} listener without certificateArn"
    policy = listener.get("sslPolicy")
    if not policy or not TLS12_POLICY.match(str(policy)):
        yield (
            f"sslPolicy {policy or 'unset (ELBSecurityPolicy-2016-08, TLS 1.0)'} allows TLS below 1.2; "
            "use ELBSecurityPolicy-TLS13-1-2-2021-06"
        )


def _drop_invalid_headers(lb: Subject) -> Iterator[str]:
    if _application(lb) and lb.get("dropInvalidHeaderFields") is not True:
        yield "dropInvalidHeaderFields must be true (headers the ALB cannot parse reach the app otherwise)"


def _prod_protection(lb: Subject) -> Iterator[str]:
    if excepted("alb-protection-outside-prod", lb.facts):
        return
    if lb.get("enableDeletionProtection") is not True:
        yield "enableDeletionProtection must be true in prod"
    logs = lb.get("accessLogs") or {}
    if logs.get("enabled") is not True or not logs.get("bucket"):
        yield "access logs must be enabled to an S3 bucket in prod"


def _listeners_by_balancer(stack: StackView) -> dict[str, tuple[PolicyResource, list[PolicyResource]]]:
    grouped: dict[str, tuple[PolicyResource, list[PolicyResource]]] = {}
    listeners = stack.of_type(*LISTENERS)
    for lb in stack.of_type(*LOAD_BALANCERS):
        if _application(lb):
            grouped[lb.urn] = (
                lb,
                [item for item in listeners if stack.references(item, "loadBalancerArn", lb, "arn", "id")],
            )
    return grouped


def _redirects_http(listener: PolicyResource) -> bool:
    actions = peek(listener.props, "defaultActions", default=[])
    if actions is UNKNOWN:
        return True
    return any(
        action.get("type") == "redirect" and (action.get("redirect") or {}).get("protocol") == "HTTPS"
        for action in actions
        if isinstance(action, dict)
    )


def _http_redirects(stack: StackView) -> Iterator[tuple[str, str | None]]:
    for lb, listeners in _listeners_by_balancer(stack).values():
        if not any(peek(item.props, "protocol") == "HTTPS" for item in listeners):
            continue
        for listener in listeners:
            if peek(listener.props, "protocol") == "HTTP" and not _redirects_http(listener):
                yield (
                    f"{lb.name} serves HTTPS, so its HTTP listener must redirect to HTTPS (HTTP_301)",
                    listener.urn,
                )


def _https_outside_dev(stack: StackView) -> Iterator[tuple[str, str | None]]:
    if excepted("http-in-dev", stack.facts):
        return
    for lb, listeners in _listeners_by_balancer(stack).values():
        if peek(lb.props, "internal") is True:
            continue
        if listeners and not any(peek(item.props, "protocol") == "HTTPS" for item in listeners):
            yield (
                f"the internet-facing load balancer of {stack.facts.describe()} serves plain HTTP only; "
                "set flowbuilder:domain (docs/front-door.md)",
                lb.urn,
            )


def _hsts(listener: Subject) -> Iterator[str]:
    if listener.get("protocol") != "HTTPS":
        return
    value = listener.peek("routingHttpResponseStrictTransportSecurityHeaderValue")
    if value is UNKNOWN:
        return
    match = HSTS_MAX_AGE.search(str(value or ""))
    if not match or int(match.group(1)) < HSTS_MIN_AGE_SECONDS:
        yield (
            f"HTTPS listener without Strict-Transport-Security of at least {HSTS_MIN_AGE_SECONDS} s "
            f"(routing.http.response.strict_transport_security.header_value is {value or 'unset'})"
        )


def _tls_policy_current(listener: Subject) -> Iterator[str]:
    if listener.get("protocol") not in ("HTTPS", "TLS"):
        return
    policy = listener.get("sslPolicy")
    if policy and TLS12_POLICY.match(str(policy)) and not TLS13_POLICY.match(str(policy)):
        yield f"sslPolicy {policy} does not offer TLS 1.3; use ELBSecurityPolicy-TLS13-1-2-2021-06 or newer"


POLICIES = [
    resource_rule(
        "alb-tls-policy",
        "HTTPS listeners must have a certificate and a security policy whose minimum is TLS 1.2.",
        LISTENERS,
        _tls_policy,
        mandatory=True,
        remediation="Set ssl_policy='ELBSecurityPolicy-TLS13-1-2-2021-06' and certificate_arn.",
        tags=["alb", "tls"],
    ),
    stack_rule(
        "alb-http-redirects-to-https",
        "When a load balancer has an HTTPS listener (a certificate exists), its HTTP listener must redirect to HTTPS.",
        _http_redirects,
        mandatory=True,
        remediation="Make the port-80 listener's default action a redirect to HTTPS, port 443, HTTP_301.",
        tags=["alb", "tls"],
    ),
    resource_rule(
        "alb-drop-invalid-headers",
        "Application load balancers must drop invalid header fields.",
        LOAD_BALANCERS,
        _drop_invalid_headers,
        mandatory=True,
        remediation="Set drop_invalid_header_fields=True.",
        tags=["alb"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "alb-prod-protection",
        "Prod load balancers must have deletion protection and access logs.",
        LOAD_BALANCERS,
        _prod_protection,
        mandatory=True,
        remediation="Set enable_deletion_protection=True and access_logs={bucket, enabled: True} in prod.",
        tags=["alb"],
        severity=Severity.MEDIUM,
    ),
    stack_rule(
        "alb-https-outside-dev",
        "An internet-facing load balancer outside dev (staging, prod) must serve HTTPS.",
        _https_outside_dev,
        mandatory=True,
        remediation="Set flowbuilder:domain.name with hostedZoneId, zoneName or certificateArn in the stack file.",
        tags=["alb", "tls"],
    ),
    resource_rule(
        "alb-hsts",
        "HTTPS listeners must send Strict-Transport-Security themselves (listener response-header attribute).",
        LISTENERS,
        _hsts,
        mandatory=True,
        remediation="Set routing_http_response_strict_transport_security_header_value='max-age=31536000; "
        "includeSubDomains' on the HTTPS listener.",
        tags=["alb", "tls"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "alb-tls-policy-current",
        "HTTPS listeners should use a current security policy, one that offers TLS 1.3.",
        LISTENERS,
        _tls_policy_current,
        mandatory=False,
        remediation="Set flowbuilder:domain.tlsPolicy to an ELBSecurityPolicy-TLS13-1-2-... or -TLS13-1-3-... policy.",
        tags=["alb", "tls"],
        severity=Severity.LOW,
    ),
]
