"""ECS: secrets by reference, hardened containers, awslogs, private networking, circuit breaker."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from ._support import UNKNOWN, StackView, Subject, document, peek, resource_rule, stack_rule
from .exceptions import excepted

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
CLUSTER = "aws:ecs/cluster:Cluster"
PIPE = "aws:pipes/pipe:Pipe"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"

# Names that say "this is a credential": the credential word ends the name (DB_PASSWORD,
# API_TOKEN, AWS_SECRET_ACCESS_KEY) or is a key (SECRET_KEY_BASE). Where a qualifier follows
# (DB_SECRET_ARN, DB_SECRET_KIND, TOKEN_URL) the variable describes a credential kept elsewhere.
SECRET_NAME = re.compile(
    r"((^|_)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|CREDENTIALS?)$)|((^|_)(SECRET|PRIVATE)_KEY(_|$))",
    re.IGNORECASE,
)
# Values that are credentials whatever their name.
SECRET_VALUES = (
    re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^@\s/]+@", re.IGNORECASE),  # URL with a password
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)


def plaintext_secrets(variables: dict[str, Any]) -> list[str]:
    """Names of environment variables whose value is a credential in clear text."""
    found = []
    for name, value in variables.items():
        text = "" if value is None else str(value)
        if not text or text.startswith("arn:"):
            continue
        if SECRET_NAME.search(name) or any(pattern.search(text) for pattern in SECRET_VALUES):
            found.append(name)
    return found


def containers(task: Subject) -> list[dict[str, Any]]:
    """The container definitions (a JSON text as the engine sees it)."""
    definitions = document(task.get("containerDefinitions"))
    return [c for c in definitions if isinstance(c, dict)] if isinstance(definitions, list) else []


def _environment(entries: Any) -> dict[str, Any]:
    return {e.get("name", ""): e.get("value") for e in entries or [] if isinstance(e, dict)}


def _no_plaintext_secrets(resource: Subject) -> Iterator[str]:
    if resource.type == TASK_DEFINITION:
        groups = [(c.get("name", "?"), _environment(c.get("environment"))) for c in containers(resource)]
    else:
        overrides = resource.get("targetParameters", "ecsTaskParameters", "overrides", "containerOverrides", default=[])
        groups = [(o.get("name", "?"), _environment(o.get("environments"))) for o in overrides]
    for container, variables in groups:
        for name in plaintext_secrets(variables):
            yield (
                f"container {container} gets {name} as a plain environment variable; "
                "pass it in 'secrets' with valueFrom (Secrets Manager or SSM) instead"
            )


def _read_only_root(task: Subject) -> Iterator[str]:
    for container in containers(task):
        if container.get("readonlyRootFilesystem") is not True:
            yield (
                f"container {container.get('name')} needs readonlyRootFilesystem: true (mount a volume where it writes)"
            )


def _not_privileged(task: Subject) -> Iterator[str]:
    for container in containers(task):
        if container.get("privileged") is True:
            yield f"container {container.get('name')} is privileged"


def _awslogs(task: Subject) -> Iterator[str]:
    fargate = "FARGATE" in (task.get("requiresCompatibilities") or [])
    for container in containers(task):
        logging = container.get("logConfiguration") or {}
        options = logging.get("options") or {}
        if logging.get("logDriver") != "awslogs":
            yield f"container {container.get('name')} logs with {logging.get('logDriver')!r}, not awslogs"
            continue
        required = ["awslogs-group", "awslogs-region"] + (["awslogs-stream-prefix"] if fargate else [])
        missing = [option for option in required if not options.get(option)]
        if missing:
            yield f"container {container.get('name')} awslogs lacks {', '.join(missing)}"


def _no_public_ip(resource: Subject) -> Iterator[str]:
    if excepted("zero-scale-public-tasks", resource.facts):
        return
    if resource.type == SERVICE:
        network = resource.get("networkConfiguration")
        if network is None:
            yield "no networkConfiguration; Fargate services run in the private subnets (awsvpc)"
        elif network.get("assignPublicIp") is True:
            yield "assignPublicIp is true; standard-topology tasks run in private subnets behind NAT"
    else:
        vpc = resource.get("targetParameters", "ecsTaskParameters", "networkConfiguration", "awsVpcConfiguration")
        if vpc and vpc.get("assignPublicIp") == "ENABLED":
            yield "assignPublicIp is ENABLED; standard-topology tasks run in private subnets behind NAT"


def _public_subnet_ids(stack: StackView) -> set[str]:
    """Subnets that are public: they map public IPs or route 0.0.0.0/0 to an internet gateway."""
    gateways = {peek(g.props, "id") for g in stack.of_type(INTERNET_GATEWAY)} - {None, UNKNOWN}
    public_tables = {
        peek(route.props, "routeTableId")
        for route in stack.of_type(ROUTE)
        if str(peek(route.props, "gatewayId", default="")).startswith("igw-")
        or peek(route.props, "gatewayId") in gateways
    }
    public = {
        peek(a.props, "subnetId")
        for a in stack.of_type(ROUTE_TABLE_ASSOCIATION)
        if peek(a.props, "routeTableId") in public_tables
    }
    public |= {peek(s.props, "id") for s in stack.of_type(SUBNET) if peek(s.props, "mapPublicIpOnLaunch") is True}
    return public - {None, UNKNOWN}


def _services_in_private_subnets(stack: StackView) -> Iterator[tuple[str, str | None]]:
    if excepted("zero-scale-services-outside-private-subnets", stack.facts):
        return
    public = _public_subnet_ids(stack)
    for service in stack.of_type(SERVICE):
        subnets = peek(service.props, "networkConfiguration", "subnets", default=[])
        if subnets is UNKNOWN:
            continue
        in_public = sorted(set(subnets) & public)
        if in_public:
            yield f"runs in public subnets {', '.join(in_public)}; use the private subnets", service.urn


def _circuit_breaker(service: Subject) -> Iterator[str]:
    if service.get("deploymentController", "type", default="ECS") != "ECS":
        return
    breaker = service.get("deploymentCircuitBreaker") or {}
    if breaker.get("enable") is not True or breaker.get("rollback") is not True:
        yield f"deploymentCircuitBreaker must have enable and rollback true (now {breaker or 'unset'})"


def _exec_off_in_prod(service: Subject) -> Iterator[str]:
    if not excepted("ecs-exec-outside-prod", service.facts) and service.get("enableExecuteCommand") is True:
        yield "ECS Exec is on in prod; a shell into production tasks should be a deliberate, temporary change"


def _container_insights_in_prod(cluster: Subject) -> Iterator[str]:
    if excepted("container-insights-outside-prod", cluster.facts):
        return
    settings = {s.get("name"): s.get("value") for s in cluster.get("settings", default=[]) if isinstance(s, dict)}
    if settings.get("containerInsights") not in ("enabled", "enhanced"):
        yield "Container Insights is off in prod"


POLICIES = [
    resource_rule(
        "ecs-no-plaintext-secrets",
        "ECS containers (task definitions and Pipe overrides) must not get credentials as plain environment variables.",
        (TASK_DEFINITION, PIPE),
        _no_plaintext_secrets,
        mandatory=True,
        remediation="Move the value to Secrets Manager and reference it from the container's 'secrets' (valueFrom).",
        tags=["ecs", "secrets"],
        severity=Severity.CRITICAL,
    ),
    resource_rule(
        "ecs-read-only-root-filesystem",
        "ECS containers must run with a read-only root filesystem.",
        (TASK_DEFINITION,),
        _read_only_root,
        mandatory=True,
        remediation=(
            "Set readonlyRootFilesystem: true; give the container a volume for the paths it writes (e.g. /tmp)."
        ),
        tags=["ecs"],
    ),
    resource_rule(
        "ecs-not-privileged",
        "ECS containers must not be privileged.",
        (TASK_DEFINITION,),
        _not_privileged,
        mandatory=True,
        remediation="Remove privileged: true.",
        tags=["ecs"],
        severity=Severity.CRITICAL,
    ),
    resource_rule(
        "ecs-awslogs",
        "ECS containers must log to CloudWatch Logs with the awslogs driver.",
        (TASK_DEFINITION,),
        _awslogs,
        mandatory=True,
        remediation=(
            "Set logConfiguration {logDriver: awslogs, options: awslogs-group, awslogs-region, awslogs-stream-prefix}."
        ),
        tags=["ecs", "logging"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "ecs-no-public-ip",
        "In the standard topology, ECS tasks (services and Pipe-launched tasks) get no public IP.",
        (SERVICE, PIPE),
        _no_public_ip,
        mandatory=True,
        remediation="Set assign_public_ip=False and use the private subnets.",
        tags=["ecs", "network"],
    ),
    stack_rule(
        "ecs-service-private-subnets",
        "In the standard topology, ECS services run only in private subnets (no route to an internet gateway).",
        _services_in_private_subnets,
        mandatory=True,
        remediation="Pass Networking's private_subnet_ids to the service's network configuration.",
        tags=["ecs", "network"],
    ),
    resource_rule(
        "ecs-circuit-breaker",
        "ECS services must have the deployment circuit breaker with rollback.",
        (SERVICE,),
        _circuit_breaker,
        mandatory=True,
        remediation="Set deployment_circuit_breaker={enable: True, rollback: True}.",
        tags=["ecs", "delivery"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "ecs-exec-off-in-prod",
        "ECS Exec should be off in prod.",
        (SERVICE,),
        _exec_off_in_prod,
        mandatory=False,
        remediation="Set ecs.execEnabled: false for prod; turn it on for an investigation and back off after.",
        tags=["ecs"],
        severity=Severity.LOW,
    ),
    resource_rule(
        "ecs-container-insights-prod",
        "Standard-topology prod ECS clusters should have Container Insights on.",
        (CLUSTER,),
        _container_insights_in_prod,
        mandatory=False,
        remediation="Set ecs.containerInsights: true for prod.",
        tags=["ecs", "observability"],
        severity=Severity.LOW,
    ),
]
