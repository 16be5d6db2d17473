"""FrontDoor: the standard topology's public entry point, the ALB in front of the API service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig.model import ApiConfig

from ..constants import HTTP_PORT, HTTPS_PORT
from ..context import StackContext
from ..watch import Alarm, Graph, Metric, MissingData, Query, Severity, Watch, expression
from .access_logs import ALB_LOG_PREFIX, access_log_bucket

# TLS 1.3 and 1.2 only; the ELB policy AWS recommends for new HTTPS listeners.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
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
    """``containerPort``, ``healthCheckPath`` and ``certificateArn`` are used."""
    vpc_id: pulumi.Input[str]
    public_subnet_ids: pulumi.Input[list[str]]
    security_group_id: pulumi.Input[str]
    """Networking's load-balancer group (80/443 from anywhere, out to the API only)."""
    deletion_protection: bool
    access_logs: bool
    """Access logs to an SSE-S3 bucket of their own."""


class FrontDoor(pulumi.ComponentResource):
    """The internet-facing load balancer of the API.

    Creates an ALB ``<name>-api`` in the public subnets (invalid headers dropped; deletion
    protection and access logs where asked: prod), a target group of type ip on
    ``api.containerPort`` (8080) checking ``GET /health`` (healthy 5, unhealthy 2, every 30 s, 5 s
    timeout, 200) with a 60 s deregistration delay, and its listeners: with ``api.certificateArn``
    an HTTPS listener (TLS 1.2+) and an HTTP -> HTTPS redirect, without one a plain HTTP listener
    (``endpoint_note`` says so).

    ``watch``: the 5xx rate (targets and load balancer) above 1 % for 15 minutes (warning) and 5 %
    for 5 minutes (critical), the p95 response time above 2 s for 10 minutes; requests, 5xx, the
    rate, latency and target health graphs.
    """

    target: LoadBalancerTarget
    dns_name: pulumi.Output[str]
    url: pulumi.Output[str]
    endpoint_note: str
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
            enable_deletion_protection=args.deletion_protection,
            access_logs=access_logs,
            opts=pulumi.ResourceOptions(parent=self, depends_on=log_dependencies),
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-api",
            name=context.name("target-group", "api"),
            target_type="ip",
            port=api.container_port,
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
        if api.certificate_arn:
            listeners = [
                aws.lb.Listener(
                    f"{name}-https",
                    load_balancer_arn=alb.arn,
                    port=HTTPS_PORT,
                    protocol="HTTPS",
                    ssl_policy=TLS_POLICY,
                    certificate_arn=api.certificate_arn,
                    default_actions=[forward],
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
            scheme = "https"
            self.endpoint_note = (
                "HTTPS (TLS 1.2+) with the configured certificate; HTTP redirects to HTTPS. Point the "
                "certificate's domain at albDnsName: the ALB's own name does not match the certificate."
            )
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
            scheme = "http"
            self.endpoint_note = (
                "plain HTTP: no certificateArn configured. Set flowbuilder:api.certificateArn to an ACM "
                "certificate to serve HTTPS and redirect HTTP."
            )
        self.target = LoadBalancerTarget(
            target_group_arn=pulumi.Output.all(target_group.arn, *(listener.arn for listener in listeners)).apply(
                lambda arns: arns[0]
            ),
            target_group_arn_suffix=target_group.arn_suffix,
            load_balancer_arn_suffix=alb.arn_suffix,
            container_port=api.container_port,
        )
        self.watch = load_balancer_watch(self.target)
        self.dns_name = alb.dns_name
        self.url = pulumi.Output.concat(f"{scheme}://", alb.dns_name)
        self.register_outputs({"dns_name": self.dns_name, "url": self.url, "endpoint_note": self.endpoint_note})


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
