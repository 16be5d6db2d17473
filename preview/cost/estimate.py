"""What a stack costs per month when nobody uses it, from what it declares.

Every line comes from a recorded resource (its type token and inputs) priced
with ``preview/cost/prices.yaml``: nothing is read from the stack configuration, so
the estimate prices what ``pulumi up`` would really create. A month is 730
hours. Usage charges (requests, data, LCUs, logs) are listed as left out, with
their unit price, instead of being guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulation.harness import StackRun
from simulation.refs import dig

from ..launches import task_launches
from .prices import PriceTable
from .rules import RULES, TASK_DEFINITION, CostLine, Pricing, spot_share

__all__ = ["CostEstimate", "CostLine", "JobCost", "PriceTable", "estimate", "spot_share"]


@dataclass
class JobCost:
    """One run of a task that only exists while there is work (a worker job)."""

    runner: str
    task_definition: str
    architecture: str
    vcpu: float
    memory_gb: float
    minutes: float
    on_demand_usd: float | None
    spot_usd: float | None
    public_ipv4_usd: float
    """Included in both prices: the task's public IPv4 address for the job's duration."""
    state_transitions: int
    """Included in both prices: Step Functions transitions of one successful run."""
    as_configured: str
    """Which of the two prices the runner's capacity-provider strategy pays (``spot``, ``on-demand``, ``mixed``)."""


@dataclass
class CostEstimate:
    region: str
    as_of: str
    currency: str
    hours_per_month: float
    free_tier_applied: bool
    lines: list[CostLine]
    credits: list[CostLine]
    total_usd: float
    unpriced: list[str]
    left_out: list[str]
    assumptions: list[str]
    scales_to_zero: list[str]
    jobs: list[JobCost] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unpriced


# -- usage charges: listed, not estimated -------------------------------------------
LEFT_OUT: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("aws:ec2/natGateway:NatGateway",), "nat-gateway-gb", "NAT gateway data processing {price}/GB"),
    (("aws:ec2/vpcEndpoint:VpcEndpoint",), "interface-endpoint-gb", "interface endpoint data processing {price}/GB"),
    (
        ("aws:lb/loadBalancer:LoadBalancer",),
        "alb-lcu-hour",
        "ALB capacity units {price}/LCU-h (one LCU all month: {month})",
    ),
    (("aws:apigatewayv2/api:Api",), "apigw-http-requests-million", "API Gateway HTTP API requests {price}/million"),
    (("aws:wafv2/webAcl:WebAcl",), "waf-requests-million", "WAF requests inspected {price}/million"),
    (
        ("aws:route53/zone:Zone",),
        "route53-queries-million",
        "Route 53 queries {price}/million (alias queries to the load balancer or API domain are free)",
    ),
    (("aws:sqs/queue:Queue",), "sqs-requests-million", "SQS requests {price}/million (first million a month free)"),
    (("aws:pipes/pipe:Pipe",), "pipes-requests-million", "EventBridge Pipes requests {price}/million"),
    (
        ("aws:sfn/stateMachine:StateMachine",),
        "sfn-standard-transition-thousand",
        "Step Functions state transitions {price}/1,000",
    ),
    (
        ("aws:lambda/function:Function",),
        "lambda-requests-million",
        "Lambda invocations {price}/million plus GB-seconds (400,000 GB-s a month free)",
    ),
    (("aws:cloudwatch/logGroup:LogGroup",), "logs-ingested-gb", "CloudWatch Logs ingestion {price}/GB plus storage"),
    (("aws:ecr/repository:Repository",), "ecr-storage-gb-month", "ECR image storage {price}/GB-month"),
    (("aws:s3/bucket:Bucket",), "s3-standard-gb-month", "S3 Standard storage {price}/GB-month plus requests"),
    (
        ("aws:cloudfront/distribution:Distribution",),
        "cloudfront-transfer-out-gb",
        "CloudFront transfer to viewers {price}/GB plus requests (no charge at idle)",
    ),
    (("aws:sesv2/emailIdentity:EmailIdentity",), "ses-emails-thousand", "SES e-mail {price}/1,000 sent"),
    (
        ("aws:sns/topic:Topic",),
        "sns-requests-million",
        "SNS publishes {price}/million (first million a month free) plus deliveries",
    ),
    (
        ("aws:elasticache/serverlessCache:ServerlessCache",),
        "elasticache-valkey-ecpu-million",
        "ElastiCache Serverless Valkey ECPUs {price}/million, storage above 100 MB per GB-hour",
    ),
    (
        ("aws:backup/plan:Plan",),
        "backup-rds-gb-month",
        "AWS Backup storage of daily and weekly increments {price}/GB-month, restores per GB",
    ),
    (
        ("aws:codebuild/project:Project",),
        "codebuild-arm1-small-minute",
        "CI runner jobs (CodeBuild arm1.small) {price}/build-minute; nothing while no job runs",
    ),
)


def _left_out(run: StackRun, pricing: Pricing) -> list[str]:
    present = {r.type for r in run.resources}
    notes = []
    for tokens, key, text in LEFT_OUT:
        if present.isdisjoint(tokens):
            continue
        if key == "interface-endpoint-gb" and not any(
            r.inputs.get("vpcEndpointType") == "Interface" for r in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        ):
            continue
        price = pricing.price(key)
        shown = f"${price.usd:g}" if price else "(no price)"
        month = f"${price.usd * pricing.hours:.2f}" if price else "?"
        notes.append(text.format(price=shown, month=month))
    transfer = pricing.price("data-transfer-out-gb")
    notes.append(
        f"data transfer out to the internet ({'$' + format(transfer.usd, 'g') if transfer else '?'}/GB) and between AZs"
    )
    if pricing.scales_to_zero or task_launches(run):
        notes.append("worker tasks while there is work (priced per job)")
    for tokens, text in (
        (
            ("aws:secretsmanager/secret:Secret", "aws:rds/instance:Instance"),
            "Secrets Manager API calls ($0.05 per 10,000)",
        ),
        (("aws:kms/key:Key",), "KMS requests ($0.03 per 10,000)"),
        (("aws:rds/instance:Instance",), "RDS backup storage beyond the database's size, and snapshots"),
        (
            ("aws:cloudwatch/eventRule:EventRule",),
            "EventBridge rules: AWS service events on the default bus are free; custom events $1/million",
        ),
    ):
        if not present.isdisjoint(tokens):
            notes.append(text)
    return notes


def _credits(lines: list[CostLine], pricing: Pricing) -> list[CostLine]:
    """CloudWatch's always-free tier: the first dashboards and standard alarm metrics."""
    result = []
    for key, tier, label in (
        ("dashboard-month", "dashboards", "dashboards"),
        ("alarm-metric-month", "alarm_metrics", "standard alarm metrics"),
    ):
        billed = [line for line in lines if line.price_keys == [key] and line.unit_usd is not None]
        quantity = min(sum(line.quantity for line in billed), pricing.prices.free_tiers[tier])
        if quantity <= 0:
            continue
        unit_usd = billed[0].unit_usd
        result.append(
            CostLine(
                component="free tier",
                resource="",
                type="",
                item=f"CloudWatch free tier: first {pricing.prices.free_tiers[tier]} {label}",
                quantity=quantity,
                unit=billed[0].unit,
                unit_usd=-unit_usd,
                monthly_usd=-quantity * unit_usd,
                price_keys=[key],
                sources=billed[0].sources,
            )
        )
    return result


def _jobs(run: StackRun, pricing: Pricing, minutes: float) -> list[JobCost]:
    """A job of ``minutes`` on each runner that starts tasks for work: RunTask callers, and queue workers
    (services that scale to zero and serve no load balancer)."""
    runners = [
        (
            launch.runner,
            launch.where,
            pricing.refs.find(launch.task_definition, TASK_DEFINITION),
            {"cpu": launch.cpu, "memory": launch.memory},
            launch.strategy or pricing.strategy({"launchType": launch.launch_type}, None),
            launch.public_ip,
            launch.steps,
        )
        for launch in task_launches(run)
    ]
    for service in run.of_type("aws:ecs/service:Service"):
        if service.name in pricing.scales_to_zero and not service.inputs.get("loadBalancers"):
            runners.append(
                (
                    service,
                    "",
                    pricing.refs.find(service.inputs.get("taskDefinition"), TASK_DEFINITION),
                    {},
                    pricing.strategy(service.inputs, service.inputs.get("cluster")),
                    bool(dig(service.inputs, "networkConfiguration.assignPublicIp")),
                    0,
                )
            )

    billed_hours = max(minutes, 1.0) / 60  # Fargate bills per second with a one-minute minimum
    ipv4 = pricing.price("public-ipv4-hour")
    transition = pricing.price("sfn-standard-transition-thousand")
    jobs = []
    for runner, where, definition, overrides, strategy, public, steps in runners:
        size = pricing.task_size(definition, overrides)
        extras = (ipv4.usd * billed_hours if public and ipv4 else 0.0) + (
            steps * transition.usd / 1000 if transition else 0.0
        )
        on_demand = spot = None
        if size:
            on_demand, spot = (
                pricing.fargate_line(runner, size, 1, billed_hours, spot=use_spot).monthly_usd
                for use_spot in (False, True)
            )
        share = spot_share(strategy, 1.0)
        jobs.append(
            JobCost(
                runner=f"{runner.type.split(':')[-1]} {runner.name}"
                + (f" ({where})" if where.startswith("definition") or where == "once per release" else ""),
                task_definition=definition.name if definition else "?",
                architecture=size[2] if size else "?",
                vcpu=size[0] if size else 0.0,
                memory_gb=size[1] if size else 0.0,
                minutes=minutes,
                on_demand_usd=None if on_demand is None else on_demand + extras,
                spot_usd=None if spot is None else spot + extras,
                public_ipv4_usd=ipv4.usd * billed_hours if public and ipv4 else 0.0,
                state_transitions=steps,
                as_configured="spot" if share >= 1 else "on-demand" if share <= 0 else "mixed",
            )
        )
    return jobs


def estimate(
    run: StackRun,
    *,
    default_region: str = "us-east-1",
    job_minutes: float = 10,
    free_tier: bool = True,
    prices: PriceTable | None = None,
) -> CostEstimate:
    """The idle monthly cost of everything ``run`` declares, biggest line first."""
    prices = prices or PriceTable.load()
    pricing = Pricing(run, prices, default_region)
    lines = [
        line
        for resource in run.resources
        if resource.custom and resource.type in RULES
        for line in RULES[resource.type](resource, pricing)
    ]
    lines.sort(key=lambda line: (-(line.monthly_usd or 0), line.component, line.resource, line.item))
    credits = _credits(lines, pricing) if free_tier else []
    total = sum(line.monthly_usd or 0 for line in lines + credits)
    present = {r.type for r in run.resources}
    assumptions = [
        f"{prices.hours_per_month:g} hours a month; on-demand list prices for {pricing.region} as of {prices.as_of}"
    ]
    if "aws:ecs/service:Service" in present:
        assumptions.append("ECS services at their minimum task count (scaling target minimum, else desiredCount)")
    if task_launches(run) or "aws:ecs/service:Service" in present:
        discount = pricing.price("fargate-spot-discount")
        assumptions.append(
            f"Fargate Spot {discount.usd:.0%} below on-demand; Spot prices move with spare capacity"
            if discount
            else "Fargate Spot: no discount in the price table"
        )
    if "aws:lb/loadBalancer:LoadBalancer" in present:
        assumptions.append("an idle ALB uses no LCUs")
    if free_tier:
        assumptions.append(
            "CloudWatch free tier (3 dashboards, 10 alarm metrics) applied as if the stack were alone "
            "in its account and region"
        )
    else:
        assumptions.append("no free tier applied (the account's free tier is used by other stacks)")
    if any(line.approximate for line in lines):
        assumptions.append("lines marked ~ use a price the table marks approximate for this region")
    return CostEstimate(
        region=pricing.region,
        as_of=prices.as_of,
        currency=prices.currency,
        hours_per_month=prices.hours_per_month,
        free_tier_applied=free_tier,
        lines=lines,
        credits=credits,
        total_usd=round(total, 2),
        unpriced=pricing.unpriced,
        left_out=_left_out(run, pricing),
        assumptions=assumptions,
        scales_to_zero=pricing.scales_to_zero,
        jobs=_jobs(run, pricing, job_minutes),
    )
