"""FrontDoor: the standard topology's public entry point, the ALB (with its domain and WAF) in front of the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig.model import ApiConfig, DomainConfig, WafConfig
from stackconfig.naming import fingerprint

from ..constants import HTTP_PORT, HTTPS_PORT
from ..context import StackContext
from ..watch import Alarm, Graph, Metric, MissingData, Query, Severity, Watch, expression
from .access_logs import ALB_LOG_PREFIX, access_log_bucket
from .domain import DomainNames, alias_records, domain_names
from .waf import Firewall, load_balancer_firewall

HEALTHY_THRESHOLD = 5
UNHEALTHY_THRESHOLD = 2
HEALTH_CHECK_INTERVAL_SECONDS = 30
HEALTH_CHECK_TIMEOUT_SECONDS = 5
# ECS's default of 300 s holds every deploy for five minutes per task.
DEREGISTRATION_DELAY_SECONDS = 60

ERROR_RATE_WARNING_PERCENT = 1
ERROR_RATE_CRITICAL_PERCENT = 5
MIN_REQUESTS_FOR_ERROR_RATE = 10
"""Below this many requests in a period the 5xx rate reads 0: one failed request out of three at
night is not an outage, and the no-healthy-targets alarm covers a dead API."""
LATENCY_P95_SECONDS = 2
ELB = "AWS/ApplicationELB"
ALIAS_RECORD_TYPES = ("A",)
"""IPv4 only: the ALB is not dual-stack (the VPC has no IPv6 block), so an AAAA alias would answer nothing."""


def hsts_header(max_age_seconds: int) -> str:
    """The ``Strict-Transport-Security`` value the HTTPS listener adds to every response."""
    return f"max-age={max_age_seconds}; includeSubDomains"


@dataclass(frozen=True)
class LoadBalancerTarget:
    """Where the API service registers its tasks, and the dimensions CloudWatch knows them by."""

    target_group_arn: pulumi.Output[str]
    """Resolves once a listener forwards to the group: ECS refuses a target group no listener uses."""
    target_group_arn_suffix: pulumi.Output[str]
    """``targetgroup/<name>/<id>``: the ``TargetGroup`` dimension."""
    load_balancer_arn_suffix: pulumi.Output[str]
    """``app/<name>/<id>``: the ``LoadBalancer`` dimension."""
    container_port: int


@dataclass
class FrontDoorArgs:
    """Inputs of :class:`FrontDoor`."""

    context: StackContext
    api: ApiConfig
    """``containerPort`` and ``healthCheckPath`` are used."""
    domain: DomainConfig
    waf: WafConfig
    vpc_id: pulumi.Input[str]
    public_subnet_ids: pulumi.Input[list[str]]
    security_group_id: pulumi.Input[str]
    """Networking's load-balancer group (80/443 from anywhere, out to the API only)."""
    deletion_protection: bool
    access_logs: bool
    """Access logs to an SSE-S3 bucket of their own."""
    strictest_desync_mitigation: bool
    """``strictest`` (prod) refuses every request that does not follow RFC 7230; else ``defensive``."""


class FrontDoor(pulumi.ComponentResource):
    """The standard topology's public entry point: DNS -> WAF -> ALB -> the API's target group.

    Creates an ALB ``<name>-api`` in the public subnets (invalid headers dropped, desync mitigation
    ``strictest`` where asked (prod) else ``defensive``; deletion protection and access logs where
    asked: prod), a target group of type ip on ``api.containerPort`` (8080) checking ``GET /health``
    (healthy 5, unhealthy 2, every 30 s, 5 s timeout, 200) with a 60 s deregistration delay, and its
    listeners.

    With ``domain.name``: the hosted zone (``domain.zoneName`` creates one, Pulumi ``protect`` where
    deletion protection is asked: prod), the ACM certificate
    (issued with DNS validation unless ``domain.certificateArn`` names one), an HTTPS listener with
    ``domain.tlsPolicy`` (TLS 1.3 and 1.2) that sends ``Strict-Transport-Security: max-age=
    <domain.hstsMaxAgeSeconds>; includeSubDomains`` itself, an HTTP listener answering 301 to HTTPS,
    and the alias A record of the name (when a zone is known). Without a domain (dev only) one plain
    HTTP listener, and ``endpoint_note`` says so.

    With ``waf.enabled`` (staging, prod): the web ACL of :mod:`.waf` associated with the ALB.

    ``watch``: the 5xx rate (targets and load balancer) above 1 % for 15 minutes (warning) and 5 %
    for 5 minutes (critical), the p95 response time above 2 s for 10 minutes, 500 or more requests
    blocked by the WAF in 5 minutes; requests, 5xx, the rate, latency, target health and WAF graphs.
    """

    target: LoadBalancerTarget
    dns_name: pulumi.Output[str]
    url: pulumi.Output[str]
    endpoint_note: str
    domain_name: str | None
    """The API's host name, for components that put names beside it."""
    hosted_zone_id: pulumi.Output[str] | None
    """The zone holding ``domain_name``, for components that add records to it."""
    names: DomainNames | None
    """The name, certificate and zone together."""
    firewall: Firewall | None
    watch: Watch

    def __init__(self, name: str, args: FrontDoorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:FrontDoor", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context, api = args.context, args.api
        access_logs = None
        log_dependencies: list[pulumi.Resource] = []
        if args.access_logs:
            bucket, log_dependencies = access_log_bucket(name, context, child)
            access_logs = aws.lb.LoadBalancerAccessLogsArgs(bucket=bucket, prefix=ALB_LOG_PREFIX, enabled=True)
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=context.name("alb", "api"),
            load_balancer_type="application",
            internal=False,
            security_groups=[args.security_group_id],
            subnets=args.public_subnet_ids,
            drop_invalid_header_fields=True,
            desync_mitigation_mode="strictest" if args.strictest_desync_mitigation else "defensive",
            enable_deletion_protection=args.deletion_protection,
            access_logs=access_logs,
            opts=pulumi.ResourceOptions(parent=self, depends_on=log_dependencies),
        )
        port = api.container_port
        target_group = aws.lb.TargetGroup(
            f"{name}-api",
            # Target type, port, protocol and VPC are replace-only, and the replacement is created
            # first: the name carries their fingerprint so the two groups never share one.
            name=pulumi.Output.from_input(args.vpc_id).apply(
                lambda vpc: context.name("target-group", f"api-{fingerprint('ip', port, 'HTTP', vpc)}")
            ),
            target_type="ip",
            port=port,
            protocol="HTTP",
            vpc_id=args.vpc_id,
            deregistration_delay=DEREGISTRATION_DELAY_SECONDS,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                path=api.health_check_path,
                protocol="HTTP",
                port="traffic-port",
                matcher="200",
                healthy_threshold=HEALTHY_THRESHOLD,
                unhealthy_threshold=UNHEALTHY_THRESHOLD,
                interval=HEALTH_CHECK_INTERVAL_SECONDS,
                timeout=HEALTH_CHECK_TIMEOUT_SECONDS,
            ),
            opts=child,
        )
        forward = aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)
        names = domain_names(name, args.domain, child, protect_zone=args.deletion_protection)
        if names is not None:
            listeners = self._https_listeners(name, alb, forward, names, args.domain)
            if names.zone_id is not None:
                alias_records(name, names.zone_id, names.name, alb.dns_name, alb.zone_id, ALIAS_RECORD_TYPES, child)
                self.endpoint_note = f"HTTPS only at https://{names.name} (TLS 1.2+, HSTS); HTTP redirects to HTTPS."
            else:
                self.endpoint_note = (
                    f"HTTPS only (TLS 1.2+, HSTS) with the configured certificate; no hosted zone is configured, so "
                    f"point {names.name} at albDnsName (a CNAME, or an alias in the zone that holds it)."
                )
            self.url = pulumi.Output.from_input(f"https://{names.name}")
        else:
            listeners = [
                aws.lb.Listener(
                    f"{name}-http",
                    load_balancer_arn=alb.arn,
                    port=HTTP_PORT,
                    protocol="HTTP",
                    default_actions=[forward],
                    opts=child,
                )
            ]
            self.url = pulumi.Output.concat("http://", alb.dns_name)
            self.endpoint_note = (
                "plain HTTP: no domain configured (dev only). Set flowbuilder:domain.name with hostedZoneId, "
                "zoneName or certificateArn to serve HTTPS and redirect HTTP."
            )
        self.domain_name = names.name if names else None
        self.hosted_zone_id = names.zone_id if names else None
        self.names = names
        self.target = LoadBalancerTarget(
            target_group_arn=pulumi.Output.all(target_group.arn, *(listener.arn for listener in listeners)).apply(
                lambda arns: arns[0]
            ),
            target_group_arn_suffix=target_group.arn_suffix,
            load_balancer_arn_suffix=alb.arn_suffix,
            container_port=api.container_port,
        )
        self.firewall = load_balancer_firewall(name, context, args.waf, alb.arn, child) if args.waf.enabled else None
        self.watch = load_balancer_watch(self.target) + (self.firewall.watch if self.firewall else Watch())
        self.dns_name = alb.dns_name
        self.register_outputs(
            {
                "dns_name": self.dns_name,
                "url": self.url,
                "endpoint_note": self.endpoint_note,
                "domain_name": self.domain_name,
                "hosted_zone_id": self.hosted_zone_id,
                "certificate_arn": names.certificate_arn if names else None,
            }
        )

    def _https_listeners(
        self,
        name: str,
        alb: aws.lb.LoadBalancer,
        forward: aws.lb.ListenerDefaultActionArgs,
        names: DomainNames,
        domain: DomainConfig,
    ) -> list[aws.lb.Listener]:
        child = pulumi.ResourceOptions(parent=self)
        return [
            aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=alb.arn,
                port=HTTPS_PORT,
                protocol="HTTPS",
                ssl_policy=domain.tls_policy.value,
                certificate_arn=names.certificate_arn,
                default_actions=[forward],
                # The load balancer sends HSTS itself, so no API response can leave it out.
                routing_http_response_strict_transport_security_header_value=hsts_header(domain.hsts_max_age_seconds),
                opts=child,
            ),
            aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="redirect",
                        redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                            protocol="HTTPS", port=str(HTTPS_PORT), status_code="HTTP_301"
                        ),
                    )
                ],
                opts=child,
            ),
        ]


def error_rate_queries(balancer: Mapping[str, pulumi.Input[str]]) -> tuple[Query, ...]:
    """The 5xx rate in percent. The load balancer's own 5xx (503 with no healthy target) never reach
    RequestCount, so they are added to both sides of the ratio."""
    return (
        Metric(ELB, "RequestCount", balancer).sum_query("requests"),
        Metric(ELB, "HTTPCode_Target_5XX_Count", balancer).sum_query("target5xx"),
        Metric(ELB, "HTTPCode_ELB_5XX_Count", balancer).sum_query("elb5xx"),
        expression("errors", "FILL(target5xx, 0) + FILL(elb5xx, 0)", "5xx responses"),
        expression("total", "FILL(requests, 0) + FILL(elb5xx, 0)", "requests"),
        expression(
            "rate",
            f"IF(total >= {MIN_REQUESTS_FOR_ERROR_RATE}, 100 * errors / total, 0)",
            "5xx rate (%)",
            returned=True,
        ),
    )


def load_balancer_watch(target: LoadBalancerTarget) -> Watch:
    balancer = {"LoadBalancer": target.load_balancer_arn_suffix}
    group = {**balancer, "TargetGroup": target.target_group_arn_suffix}
    rate = error_rate_queries(balancer)
    alarms = [
        Alarm(
            key,
            severity=severity,
            summary=(
                f"More than {percent}% of API requests returned 5xx (targets and load balancer) "
                f"for {periods * 5} minutes."
            ),
            runbook=(
                "Read the api logs for the errors; if a deploy just happened, roll back by promoting the "
                "previous api digest; check the database alarms."
            ),
            queries=rate,
            comparison="GreaterThanThreshold",
            threshold=percent,
            evaluation_periods=periods,
            # No requests, no 5xx counts: a quiet API is a healthy one.
            treat_missing_data=MissingData.NOT_BREACHING,
        )
        for key, severity, percent, periods in (
            ("api-5xx-rate-warning", Severity.WARNING, ERROR_RATE_WARNING_PERCENT, 3),
            ("api-5xx-rate-critical", Severity.CRITICAL, ERROR_RATE_CRITICAL_PERCENT, 1),
        )
    ]
    latency = Metric(ELB, "TargetResponseTime", group)
    alarms.append(
        Alarm(
            "api-p95-latency",
            severity=Severity.WARNING,
            summary=f"The slowest 5% of API requests took longer than {LATENCY_P95_SECONDS} s for 10 minutes.",
            runbook="Check api CPU, database CPU and connections, and slow statements in the postgresql log.",
            metric=latency,
            extended_statistic="p95",
            comparison="GreaterThanThreshold",
            threshold=LATENCY_P95_SECONDS,
            evaluation_periods=2,
            treat_missing_data=MissingData.NOT_BREACHING,
            # A p95 of a handful of requests is one slow request: keep the state until there are enough.
            evaluate_low_sample_count_percentiles="ignore",
        )
    )
    graphs = (
        Graph(
            "API: requests and 5xx",
            (
                Metric(ELB, "RequestCount", balancer).line(label="requests"),
                Metric(ELB, "HTTPCode_Target_5XX_Count", balancer).line(label="target 5xx"),
                Metric(ELB, "HTTPCode_ELB_5XX_Count", balancer).line(label="load balancer 5xx"),
            ),
            stat="Sum",
        ),
        Graph(
            "API: 5xx rate (%)",
            tuple(query.line() for query in rate),
            stat="Sum",
            threshold=ERROR_RATE_WARNING_PERCENT,
            threshold_label="warning",
        ),
        Graph(
            "API: target response time p95 (s)",
            (latency.line(label="p95"),),
            stat="p95",
            threshold=LATENCY_P95_SECONDS,
        ),
        Graph(
            "API: healthy and unhealthy targets",
            (
                Metric(ELB, "HealthyHostCount", group).line(label="healthy"),
                Metric(ELB, "UnHealthyHostCount", group).line(label="unhealthy"),
            ),
            stat="Minimum",
        ),
    )
    return Watch(tuple(alarms), graphs)
