"""A Mermaid diagram of a stack, drawn from the resources it declares.

Nothing is drawn by hand: nodes come from resource types (services, queues,
pipes, functions, databases ...), placed in the tier of the subnets they run
in; edges come from what the resources say about each other:

* internet -> DNS name -> (WAF ->) load balancer -> service: alias records, the web ACL's association,
  listeners and target groups; DNS name -> API domain -> HTTP API: the custom domain's API mapping;
* X -> database: security-group rules that admit X's group on the database's port;
* X -> queue and queue -> Y: IAM statements allowing ``sqs:SendMessage`` / ``sqs:ReceiveMessage`` on the queue;
* queue -> pipe -> task: the pipe's source and ECS target;
* schedule -> function: schedule and event-rule targets;
* release -> migration runner -> migration task -> what waits for it: an Invocation that starts a
  task, and the resources that depend on that Invocation;
* queue -> dead-letter queue: the redrive policy; alarms -> topic: alarm actions;
* X -> bucket and X -> SES: IAM statements allowing ``s3:PutObject`` under the bucket or ``ses:SendEmail``
  on the identity; internet -> CDN -> bucket: the distribution's origin;
* SES -> topic -> webhook: the configuration set's event destination and the topic's HTTPS subscriptions;
* X -> cache: security-group rules that admit X's group on the cache's port;
* database -> backup vault -> copy vault: backup selections by tag, their plan's rules and copy actions;
* private subnets -> NAT -> internet, and tasks with a public IP -> internet.

Long because every flow rule lives here, one small function per kind of edge, over one builder;
splitting them would only separate each rule from the node kinds it links.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from simulation.harness import PROJECT, RecordedResource, StackRun
from simulation.refs import Refs, as_document, dig, number, physical_name, strings

from ..launches import TaskLaunch, task_launches

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
API_DOMAIN = "aws:apigatewayv2/domainName:DomainName"
ROLE = "aws:iam/role:Role"
ZONES: dict[str, str] = {
    "public": "Public subnets",
    "private": "Private subnets",
    "database": "Database subnets",
    "aws": "AWS regional services",
    "eks": "EKS",
    "outside": "",
}
SHAPES = {
    "box": ('["', '"]'),
    "round": ('("', '")'),
    "db": ('[("', '")]'),
    "queue": ('[["', '"]]'),
    "hex": ('{{"', '"}}'),
    "stadium": ('(["', '"])'),
    "circle": ('(("', '"))'),
}


@dataclass
class Node:
    id: str
    label: str
    zone: str
    shape: str = "box"
    security_groups: list[str] = field(default_factory=list)
    role: str | None = None
    """The IAM role (ARN or name) the node's code runs as."""
    public_ip: bool = False


@dataclass
class Edge:
    source: str
    target: str
    label: str = ""
    dotted: bool = False


@dataclass
class Diagram:
    stack: str
    vpc_label: str
    nodes: list[Node]
    edges: list[Edge]
    mermaid: str = ""

    def flows(self) -> list[str]:
        """Edges as ``source -> target (label)`` text lines, for a terminal."""
        labels = {node.id: node.label.replace("<br/>", " ") for node in self.nodes}
        labels.update({zone: text for zone, text in ZONES.items() if text}, internet="Internet")
        return [
            f"{labels.get(e.source, e.source)} {'..>' if e.dotted else '-->'} {labels.get(e.target, e.target)}"
            + (f"  [{e.label}]" if e.label else "")
            for e in self.edges
        ]


class _Builder:
    def __init__(self, run: StackRun) -> None:
        self.run = run
        self.refs = Refs(run)
        self.prefix = f"{PROJECT}-{run.stack}-"
        self.nodes: dict[str, Node] = {}
        self.edges: dict[tuple[str, str], Edge] = {}
        self.by_urn: dict[str, str] = {}
        self.subnet_tier = {s.id: _tier_of_subnet(s) for s in run.of_type("aws:ec2/subnet:Subnet")}

    def short(self, resource: RecordedResource) -> str:
        return resource.name.removeprefix(self.prefix)

    def add(
        self, resource: RecordedResource | None, key: str, label: str, zone: str, shape: str = "box", **extra: Any
    ) -> Node:
        node_id = re.sub(r"[^A-Za-z0-9_]", "_", key)
        node = self.nodes.setdefault(node_id, Node(node_id, label, zone, shape, **extra))
        if resource is not None:
            self.by_urn[resource.urn] = node_id
        return node

    def link(self, source: str | None, target: str | None, label: str = "", dotted: bool = False) -> None:
        if source and target and source != target and (source, target) not in self.edges:
            self.edges[(source, target)] = Edge(source, target, label, dotted)

    def node_of(self, resource: RecordedResource | None) -> str | None:
        return self.by_urn.get(resource.urn) if resource else None

    def zone(self, subnets: Any, public_ip: bool = False) -> str:
        tiers = {self.subnet_tier.get(s) for s in strings(subnets)} - {None}
        if len(tiers) == 1:
            return tiers.pop()
        return "public" if public_ip else "private"


def _tier_of_subnet(subnet: RecordedResource) -> str | None:
    tier = (subnet.inputs.get("tags") or {}).get("tier")
    if tier in ("public", "private", "database"):
        return tier
    return next((t for t in ("public", "private", "database") if t in subnet.name), None)


# -- nodes ---------------------------------------------------------------------------
def _nodes(b: _Builder) -> None:
    run = b.run
    for lb in run.of_type("aws:lb/loadBalancer:LoadBalancer"):
        kind = "ALB" if (lb.inputs.get("loadBalancerType") or "application") == "application" else "NLB"
        b.add(
            lb,
            f"lb_{b.short(lb)}",
            f"{kind} {b.short(lb)}",
            "private" if lb.inputs.get("internal") else "public",
            security_groups=list(strings(lb.inputs.get("securityGroups"))),
        )
    for acl in run.of_type(WEB_ACL):
        rules = len(acl.inputs.get("rules") or [])
        b.add(acl, f"waf_{b.short(acl)}", f"WAF web ACL<br/>{rules} rules", "aws", "hex")
    for domain in run.of_type(API_DOMAIN):
        b.add(domain, f"apidomain_{b.short(domain)}", f"API domain {domain.inputs.get('domainName', '')}", "aws")
    for record in _alias_records(run):
        name = str(record.inputs.get("name", ""))
        b.add(record, f"dns_{name}", f"DNS {name}", "aws", "stadium")
    for nat in run.of_type("aws:ec2/natGateway:NatGateway"):
        b.add(
            nat,
            "nat",
            "NAT gateway" + (f" x{len(run.of_type(nat.type))}" if len(run.of_type(nat.type)) > 1 else ""),
            "public",
        )
    for instance in run.of_type("aws:ec2/instance:Instance"):
        if instance.inputs.get("sourceDestCheck") is False:
            b.add(instance, "nat", f"NAT instance {instance.inputs.get('instanceType', '')}", "public")
    endpoints = [_endpoint_label(e) for e in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")]
    if endpoints:
        b.add(None, "endpoints", "VPC endpoints<br/>" + ", ".join(endpoints), "private", "hex")
    for database in run.of_type("aws:rds/instance:Instance"):
        _database(b, database)
    _caches(b)
    for vault in run.of_type("aws:backup/vault:Vault"):
        region = b.refs.region(vault, b.refs.stack_region(""))
        home = b.refs.stack_region("")
        where = f" ({region})" if region and region != home else ""
        b.add(vault, f"backup_{b.short(vault)}", f"Backup vault {b.short(vault)}{where}", "aws", "db")
    for queue in run.of_type("aws:sqs/queue:Queue"):
        b.add(queue, f"sqs_{b.short(queue)}", f"SQS {b.short(queue)}", "aws", "queue")
    for secret in run.of_type("aws:secretsmanager/secret:Secret"):
        b.add(secret, f"secret_{b.short(secret)}", f"secret {b.short(secret)}", "aws", "hex")
    for service in run.of_type("aws:ecs/service:Service"):
        _service(b, service)
    for function in run.of_type("aws:lambda/function:Function"):
        vpc = function.inputs.get("vpcConfig") or {}
        zone = b.zone(vpc.get("subnetIds")) if vpc.get("subnetIds") else "aws"
        b.add(
            function,
            f"lambda_{b.short(function)}",
            f"Lambda {b.short(function)}",
            zone,
            "round",
            security_groups=list(strings(vpc.get("securityGroupIds"))),
            role=function.inputs.get("role"),
        )
    for api in run.of_type("aws:apigatewayv2/api:Api"):
        b.add(
            api,
            f"apigw_{b.short(api)}",
            f"API Gateway {api.inputs.get('protocolType', '')} {b.short(api)}",
            "aws",
            "stadium",
        )
    for pipe in run.of_type("aws:pipes/pipe:Pipe"):
        b.add(pipe, f"pipe_{b.short(pipe)}", f"Pipe {b.short(pipe)}", "aws", "stadium", role=pipe.inputs.get("roleArn"))
    for machine in run.of_type("aws:sfn/stateMachine:StateMachine"):
        b.add(
            machine,
            f"sfn_{b.short(machine)}",
            f"Step Functions {b.short(machine)}",
            "aws",
            "stadium",
            role=machine.inputs.get("roleArn"),
        )
    for schedule in _schedules(run):
        b.add(schedule, f"schedule_{b.short(schedule)}", f"schedule {_schedule_expression(schedule)}", "aws", "stadium")
    for topic in run.of_type("aws:sns/topic:Topic"):
        b.add(topic, f"sns_{b.short(topic)}", f"SNS {b.short(topic)}", "aws", "queue")
    for bucket in run.of_type("aws:s3/bucket:Bucket"):
        b.add(bucket, f"s3_{b.short(bucket)}", f"S3 {b.short(bucket)}", "aws", "db")
    for distribution in run.of_type("aws:cloudfront/distribution:Distribution"):
        b.add(
            distribution,
            f"cdn_{b.short(distribution)}",
            f"CloudFront {b.short(distribution)}<br/>{distribution.inputs.get('priceClass', '')}",
            "aws",
            "stadium",
        )
    for identity in run.of_type("aws:sesv2/emailIdentity:EmailIdentity"):
        b.add(identity, f"ses_{b.short(identity)}", f"SES {identity.inputs.get('emailIdentity', '')}", "aws", "stadium")
    alarms, dashboards = (
        run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"),
        run.of_type("aws:cloudwatch/dashboard:Dashboard"),
    )
    if alarms or dashboards:
        parts = []
        if alarms:
            parts.append(f"{len(alarms)} alarms")
        if dashboards:
            parts.append(f"{len(dashboards)} dashboard{'s' if len(dashboards) > 1 else ''}")
        node = b.add(None, "cloudwatch", "CloudWatch<br/>" + ", ".join(parts), "aws")
        for alarm in alarms:
            b.by_urn[alarm.urn] = node.id
    for budget in run.of_type("aws:budgets/budget:Budget"):
        b.add(budget, f"budget_{b.short(budget)}", f"Budget ${number(budget.inputs.get('limitAmount')):g}/month", "aws")
    repositories = run.of_type("aws:ecr/repository:Repository")
    if repositories:
        b.add(None, "ecr", "ECR<br/>" + ", ".join(b.short(r) for r in repositories), "aws")
    for cluster in run.of_type("aws:eks/cluster:Cluster"):
        b.add(
            cluster,
            f"eks_{b.short(cluster)}",
            f"EKS control plane {cluster.inputs.get('version', '')}".strip(),
            "eks",
            security_groups=list(strings(dig(cluster.inputs, "vpcConfig.securityGroupIds"))),
        )
    templates = {t.id: t for t in run.of_type("aws:ec2/launchTemplate:LaunchTemplate")}
    for group in run.of_type("aws:eks/nodeGroup:NodeGroup"):
        template = templates.get(dig(group.inputs, "launchTemplate.id"))
        size = dig(group.inputs, "scalingConfig.desiredSize")
        b.add(
            group,
            f"nodes_{b.short(group)}",
            f"EKS nodes {', '.join(strings(group.inputs.get('instanceTypes')))} x {number(size):g}",
            "eks",
            security_groups=list(strings(template.inputs.get("vpcSecurityGroupIds"))) if template else [],
        )
    for project in run.of_type("aws:codebuild/project:Project"):
        vpc = project.inputs.get("vpcConfig") or {}
        b.add(
            project,
            f"codebuild_{b.short(project)}",
            f"CodeBuild runner {b.short(project)}",
            b.zone(vpc.get("subnets")) if vpc.get("subnets") else "aws",
            "round",
            security_groups=list(strings(vpc.get("securityGroupIds"))),
        )
    for workload in run.resources:
        if workload.type in ("kubernetes:apps/v1:Deployment", "kubernetes:helm.sh/v3:Release"):
            name = dig(workload.inputs, "metadata.name") or workload.inputs.get("name") or b.short(workload)
            b.add(
                workload,
                f"k8s_{b.short(workload)}",
                f"{'Deployment' if workload.type.endswith('Deployment') else 'Helm'} {name}",
                "eks",
            )


def _endpoint_label(endpoint: RecordedResource) -> str:
    service = ".".join(str(endpoint.inputs.get("serviceName", "")).split(".")[3:])
    return f"{service} (gateway)" if (endpoint.inputs.get("vpcEndpointType") or "Gateway") == "Gateway" else service


def _database(b: _Builder, database: RecordedResource) -> None:
    inputs = database.inputs
    group = next(
        (
            g
            for g in b.run.of_type("aws:rds/subnetGroup:SubnetGroup")
            if physical_name(g) == inputs.get("dbSubnetGroupName")
        ),
        None,
    )
    zone = b.zone(group.inputs.get("subnetIds")) if group else "database"
    role = (
        "replica"
        if inputs.get("replicateSourceDb")
        else "PostgreSQL"
        if inputs.get("engine") == "postgres"
        else inputs.get("engine", "")
    )
    multi = " Multi-AZ" if inputs.get("multiAz") else ""
    b.add(
        database,
        f"rds_{b.short(database)}",
        f"RDS {role}<br/>{inputs.get('instanceClass', '')}{multi}",
        zone,
        "db",
        security_groups=list(strings(inputs.get("vpcSecurityGroupIds"))),
    )


def _caches(b: _Builder) -> None:
    for cache in b.run.of_type("aws:elasticache/serverlessCache:ServerlessCache"):
        inputs = cache.inputs
        b.add(
            cache,
            f"cache_{b.short(cache)}",
            f"ElastiCache {inputs.get('engine', '')}<br/>serverless",
            b.zone(inputs.get("subnetIds")),
            "db",
            security_groups=list(strings(inputs.get("securityGroupIds"))),
        )
    for cache in b.run.of_type("aws:elasticache/replicationGroup:ReplicationGroup"):
        inputs = cache.inputs
        group = next(
            (
                g
                for g in b.run.of_type("aws:elasticache/subnetGroup:SubnetGroup")
                if physical_name(g) == inputs.get("subnetGroupName")
            ),
            None,
        )
        nodes = number(inputs.get("numCacheClusters"), 1)
        b.add(
            cache,
            f"cache_{b.short(cache)}",
            f"ElastiCache {inputs.get('engine', '')}<br/>{inputs.get('nodeType', '')} x {nodes:g}",
            b.zone(group.inputs.get("subnetIds")) if group else "database",
            "db",
            security_groups=list(strings(inputs.get("securityGroupIds"))),
        )


def _backup_edges(b: _Builder) -> None:
    run, refs = b.run, b.refs
    vaults = {physical_name(v): v for v in run.of_type("aws:backup/vault:Vault")}
    for selection in run.of_type("aws:backup/selection:Selection"):
        plan = refs.find(selection.inputs.get("planId"), "aws:backup/plan:Plan")
        if plan is None:
            continue
        wanted = {(t.get("key"), t.get("value")) for t in selection.inputs.get("selectionTags") or []}
        selected = [
            r
            for r in run.resources
            if r.custom and isinstance(r.inputs.get("tags"), dict) and wanted & set(r.inputs["tags"].items())
        ]
        for rule in plan.inputs.get("rules") or []:
            vault = vaults.get(rule.get("targetVaultName"))
            names = ", ".join(
                str(r.get("ruleName"))
                for r in plan.inputs["rules"]
                if r.get("targetVaultName") == rule.get("targetVaultName")
            )
            for resource in selected:
                b.link(b.node_of(resource), b.node_of(vault), names)
            for action in rule.get("copyActions") or []:
                b.link(b.node_of(vault), b.node_of(refs.find(action.get("destinationVaultArn"))), "copy")


def _service(b: _Builder, service: RecordedResource) -> None:
    inputs = service.inputs
    network = inputs.get("networkConfiguration") or {}
    definition = b.refs.find(inputs.get("taskDefinition"), TASK_DEFINITION)
    counts = _scaling(b.run, physical_name(service)) or (number(inputs.get("desiredCount")),) * 2
    providers = {item.get("capacityProvider") for item in inputs.get("capacityProviderStrategies") or []}
    capacity = (
        " + ".join(sorted(p.replace("FARGATE_SPOT", "Spot").replace("FARGATE", "on-demand") for p in providers if p))
        or "Fargate"
    )
    b.add(
        service,
        f"ecs_{b.short(service)}",
        f"ECS {b.short(service)}<br/>{capacity}, {counts[0]:g}-{counts[1]:g} tasks",
        b.zone(network.get("subnets"), bool(network.get("assignPublicIp"))),
        "box",
        security_groups=list(strings(network.get("securityGroups"))),
        role=definition.inputs.get("taskRoleArn") if definition else None,
        public_ip=bool(network.get("assignPublicIp")),
    )


def _scaling(run: StackRun, service_name: str) -> tuple[float, float] | None:
    for target in run.of_type("aws:appautoscaling/target:Target"):
        if str(target.inputs.get("resourceId", "")).rsplit("/", 1)[-1] == service_name:
            return number(target.inputs.get("minCapacity")), number(target.inputs.get("maxCapacity"))
    return None


def _task(b: _Builder, launch: TaskLaunch) -> None:
    """The task a RunTask caller starts, linked from its caller."""
    definition = b.refs.find(launch.task_definition, TASK_DEFINITION)
    label = b.short(definition) if definition else "task"
    providers = {item.get("capacityProvider") for item in launch.strategy} or {launch.launch_type}
    capacity = (
        " + ".join(
            sorted(str(p).replace("FARGATE_SPOT", "Spot").replace("FARGATE", "on-demand") for p in providers if p)
        )
        or "Fargate"
    )
    task = b.add(
        definition,
        f"task_{label}",
        f"ECS task {label}<br/>{capacity}, one per run",
        b.zone(launch.subnets, launch.public_ip),
        security_groups=launch.security_groups,
        role=definition.inputs.get("taskRoleArn") if definition else None,
        public_ip=launch.public_ip,
    )
    b.link(b.node_of(launch.runner), task.id, "RunTask")


def _schedules(run: StackRun) -> list[RecordedResource]:
    rules = [r for r in run.of_type("aws:cloudwatch/eventRule:EventRule") if r.inputs.get("scheduleExpression")]
    return run.of_type("aws:scheduler/schedule:Schedule") + rules


def _schedule_expression(schedule: RecordedResource) -> str:
    return str(schedule.inputs.get("scheduleExpression", ""))


# -- edges ------------------------------------------------------------------------------
def _edges(b: _Builder) -> None:
    run, refs = b.run, b.refs
    ports: dict[str, list[str]] = {}
    for listener in run.of_type("aws:lb/listener:Listener"):
        ports.setdefault(listener.inputs.get("loadBalancerArn"), []).append(f"{number(listener.inputs.get('port')):g}")
    for lb in run.of_type("aws:lb/loadBalancer:LoadBalancer"):
        if not lb.inputs.get("internal"):
            listening = ", ".join(sorted(ports.get(lb.state.get("arn"), [])))
            firewall = _firewall_of(b, lb)
            if firewall:
                # The web ACL inspects every request before the load balancer routes it.
                b.link("internet", firewall, listening)
                b.link(firewall, b.node_of(lb), "allowed")
            else:
                b.link("internet", b.node_of(lb), listening)
    _dns_edges(b)
    for service in run.of_type("aws:ecs/service:Service"):
        for attachment in service.inputs.get("loadBalancers") or []:
            for lb in _balancers_of(run, refs, attachment.get("targetGroupArn")):
                b.link(b.node_of(lb), b.node_of(service), f"{number(attachment.get('containerPort')):g}")
    _security_group_edges(b)
    _backup_edges(b)
    for api in run.of_type("aws:apigatewayv2/api:Api"):
        b.link("internet", b.node_of(api), "HTTPS")
    for integration in run.of_type("aws:apigatewayv2/integration:Integration"):
        api = refs.find(integration.inputs.get("apiId"), "aws:apigatewayv2/api:Api")
        uri = str(integration.inputs.get("integrationUri", ""))
        # A Lambda proxy's URI is the function's invoke ARN, which embeds the function ARN.
        target = next(
            (f for f in run.of_type("aws:lambda/function:Function") if f.state.get("arn") and f.state["arn"] in uri),
            None,
        )
        b.link(b.node_of(api), b.node_of(target), "invoke")
    for pipe in run.of_type("aws:pipes/pipe:Pipe"):
        b.link(b.node_of(refs.find(pipe.inputs.get("source"))), b.node_of(pipe), "poll")
        b.link(b.node_of(pipe), b.node_of(refs.find(pipe.inputs.get("target"))), "start")
    _queue_edges(b)
    for schedule in run.of_type("aws:scheduler/schedule:Schedule"):
        b.link(b.node_of(schedule), b.node_of(refs.find(dig(schedule.inputs, "target.arn"))), "invoke")
    scheduled = {physical_name(r) for r in _schedules(run)}
    for target in run.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        rule = next((r for r in _schedules(run) if physical_name(r) == target.inputs.get("rule")), None)
        b.link(b.node_of(rule), b.node_of(refs.find(target.inputs.get("arn"))), "invoke")
        if target.inputs.get("rule") not in scheduled:
            # AWS events (Spot interruptions, instance state, Health) delivered to a queue.
            b.add(None, "aws_events", "EventBridge<br/>AWS events", "aws", "stadium")
            b.link("aws_events", b.node_of(refs.find(target.inputs.get("arn"))), "event")
    for queue in run.of_type("aws:sqs/queue:Queue"):
        try:
            redrive = as_document(queue.inputs.get("redrivePolicy") or "{}")
        except ValueError:
            continue
        dlq = refs.find(redrive.get("deadLetterTargetArn"))
        b.link(b.node_of(queue), b.node_of(dlq), f"after {redrive.get('maxReceiveCount', '?')} receives", dotted=True)
    for alarm in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        for action in strings(alarm.inputs.get("alarmActions")):
            b.link(b.node_of(alarm), b.node_of(refs.find(action)), "alarm", dotted=True)
    _secret_edges(b)
    _release_edges(b)
    _uploads_and_email_edges(b)
    if "nat" in b.nodes:
        if any(node.zone == "private" for node in b.nodes.values()):
            b.link("private", "nat", "egress", dotted=True)
        b.link("nat", "internet", "", dotted=True)
    for node in list(b.nodes.values()):
        if node.public_ip:
            b.link(node.id, "internet", "egress (public IP)", dotted=True)


def _release_edges(b: _Builder) -> None:
    """``pulumi up`` invokes the migration runner, which runs the migration task; what runs the new
    code waits for that invocation."""
    for launch in task_launches(b.run):
        invocation = launch.invocation
        if invocation is None:
            continue
        release = b.add(None, "release", "release (pulumi up)", "outside", "stadium")
        b.link(release.id, b.node_of(launch.runner), "invoke, once per api digest")
        task = b.node_of(b.refs.find(launch.task_definition, TASK_DEFINITION))
        for resource in b.run.resources:
            if invocation.urn in resource.depends_on:
                b.link(task, b.node_of(resource), "exit 0, then rolls", dotted=True)


def _alias_records(run: StackRun) -> list[RecordedResource]:
    return [r for r in run.of_type("aws:route53/record:Record") if r.inputs.get("aliases")]


def _firewall_of(b: _Builder, lb: RecordedResource) -> str | None:
    """The node of the web ACL associated with ``lb``, if any."""
    for association in b.run.of_type("aws:wafv2/webAclAssociation:WebAclAssociation"):
        if association.inputs.get("resourceArn") == lb.state.get("arn"):
            return b.node_of(b.refs.find(association.inputs.get("webAclArn"), WEB_ACL))
    return None


def _dns_edges(b: _Builder) -> None:
    """A name resolves to its alias target; an API domain serves the API its mapping names."""
    run, refs = b.run, b.refs
    for record in _alias_records(run):
        target = str(record.inputs["aliases"][0].get("name", "")).rstrip(".").lower()
        by_name = [lb for lb in run.of_type("aws:lb/loadBalancer:LoadBalancer") if lb.state.get("dnsName") == target]
        by_name += [
            domain
            for domain in run.of_type(API_DOMAIN)
            if dig(domain.state, "domainNameConfiguration.targetDomainName") == target
        ]
        for resource in by_name:
            b.link("internet", b.node_of(record), "resolve", dotted=True)
            # Requests to the name meet the web ACL before the load balancer.
            entry = (_firewall_of(b, resource) if resource.type.startswith("aws:lb/") else None) or b.node_of(resource)
            b.link(b.node_of(record), entry, f"alias {record.inputs.get('type', '')}")
    for mapping in run.of_type("aws:apigatewayv2/apiMapping:ApiMapping"):
        domain = next(
            (
                d
                for d in run.of_type(API_DOMAIN)
                if mapping.inputs.get("domainName") in (d.id, d.inputs.get("domainName"))
            ),
            None,
        )
        api = refs.find(mapping.inputs.get("apiId"), "aws:apigatewayv2/api:Api")
        if domain is not None:
            b.link("internet", b.node_of(domain), "HTTPS")
            b.link(b.node_of(domain), b.node_of(api), f"mapping {mapping.inputs.get('stage', '')}")


def _balancers_of(run: StackRun, refs: Refs, target_group_arn: Any) -> Iterator[RecordedResource]:
    for listener in run.of_type("aws:lb/listener:Listener"):
        forwards = json.dumps(listener.inputs.get("defaultActions") or [])
        if isinstance(target_group_arn, str) and target_group_arn in forwards:
            lb = refs.find(listener.inputs.get("loadBalancerArn"))
            if lb is not None:
                yield lb


def _security_group_edges(b: _Builder) -> None:
    members: dict[str, list[str]] = {}
    for node in b.nodes.values():
        for group in node.security_groups:
            members.setdefault(group, []).append(node.id)
    rules = [
        (r.inputs.get("referencedSecurityGroupId"), r.inputs.get("securityGroupId"), r.inputs.get("fromPort"))
        for r in b.run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    ]
    for source_group, target_group, port in rules:
        for source in members.get(source_group, []) if source_group else []:
            for target in members.get(target_group, []):
                b.link(source, target, f"{number(port):g}")


def _statements(b: _Builder) -> dict[str, list[dict[str, Any]]]:
    """Role URN -> the Allow statements of every policy attached to it."""
    documents: dict[str, list[Any]] = {}
    run, refs = b.run, b.refs
    for role in run.of_type(ROLE):
        documents.setdefault(role.urn, []).extend(p.get("policy") for p in role.inputs.get("inlinePolicies") or [])
    for attached in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        role = refs.find(attached.inputs.get("role"), ROLE)
        if role:
            documents.setdefault(role.urn, []).append(attached.inputs.get("policy"))
    for attachment in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        role, policy = refs.find(attachment.inputs.get("role"), ROLE), refs.find(attachment.inputs.get("policyArn"))
        if role and policy:
            documents.setdefault(role.urn, []).append(policy.inputs.get("policy"))
    result: dict[str, list[dict[str, Any]]] = {}
    for urn, raw_documents in documents.items():
        for raw in raw_documents:
            try:
                statements = (as_document(raw) or {}).get("Statement") or []
            except (ValueError, AttributeError):
                continue
            statements = [statements] if isinstance(statements, dict) else statements
            result.setdefault(urn, []).extend(
                s for s in statements if isinstance(s, dict) and s.get("Effect") == "Allow"
            )
    return result


def _allows(statements: list[dict[str, Any]], action: str, arn: str) -> bool:
    return any(
        any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in strings(s.get("Action")))
        and any(fnmatch.fnmatchcase(arn, pattern) for pattern in strings(s.get("Resource")))
        for s in statements
    )


def _queue_edges(b: _Builder) -> None:
    statements = _statements(b)
    for node in b.nodes.values():
        role = b.refs.find(node.role, ROLE) if node.role else None
        granted = statements.get(role.urn, []) if role else []
        for queue in b.run.of_type("aws:sqs/queue:Queue"):
            arn = queue.state.get("arn", "")
            if _allows(granted, "sqs:SendMessage", arn):
                b.link(node.id, b.node_of(queue), "send")
            if _allows(granted, "sqs:ReceiveMessage", arn):
                b.link(b.node_of(queue), node.id, "receive")


def _uploads_and_email_edges(b: _Builder) -> None:
    """Who writes the uploads bucket and sends e-mail (by their grants), the CDN's origin, and where
    SES events go."""
    run, statements = b.run, _statements(b)
    buckets = run.of_type("aws:s3/bucket:Bucket")
    identities = run.of_type("aws:sesv2/emailIdentity:EmailIdentity")
    for node in list(b.nodes.values()):
        role = b.refs.find(node.role, ROLE) if node.role else None
        granted = statements.get(role.urn, []) if role else []
        for bucket in buckets:
            arn = bucket.state.get("arn", "-")
            if any(
                _allows([s], "s3:PutObject", resource) and resource.startswith(f"{arn}/")
                for s in granted
                for resource in strings(s.get("Resource"))
            ):
                b.link(node.id, b.node_of(bucket), "put/get objects")
        for identity in identities:
            if _allows(granted, "ses:SendEmail", identity.state.get("arn", "-")):
                b.link(node.id, b.node_of(identity), "send")
    for distribution in run.of_type("aws:cloudfront/distribution:Distribution"):
        b.link("internet", b.node_of(distribution), "HTTPS")
        for origin in distribution.inputs.get("origins") or []:
            bucket = next(
                (x for x in buckets if x.state.get("bucketRegionalDomainName") == origin.get("domainName")), None
            )
            b.link(b.node_of(distribution), b.node_of(bucket), "read (origin access control)")
    for destination in run.of_type("aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"):
        topic = b.refs.find(dig(destination.inputs, "eventDestination.snsDestination.topicArn"))
        for identity in identities:
            if identity.inputs.get("configurationSetName") == destination.inputs.get("configurationSetName"):
                events = dig(destination.inputs, "eventDestination.matchingEventTypes") or []
                b.link(b.node_of(identity), b.node_of(topic), ", ".join(str(e).lower() for e in events))
    for subscription in run.of_type("aws:sns/topicSubscription:TopicSubscription"):
        if subscription.inputs.get("protocol") == "https":
            host = str(subscription.inputs.get("endpoint", "")).removeprefix("https://").split("/", 1)[0]
            webhook = b.add(None, f"webhook_{host}", f"webhook {host}", "outside", "round")
            b.link(b.node_of(b.refs.find(subscription.inputs.get("topic"))), webhook.id, "HTTPS")


def _secret_edges(b: _Builder) -> None:
    """Who reads which secret: ECS ``secrets`` valueFrom, Lambda roles with GetSecretValue."""
    statements = _statements(b)
    secrets = b.run.of_type("aws:secretsmanager/secret:Secret")
    has_rds = bool(b.run.of_type("aws:rds/instance:Instance"))
    for node in list(b.nodes.values()):
        role = b.refs.find(node.role, ROLE) if node.role else None
        for secret in secrets:
            arn = secret.state.get("arn", "")
            if role and _allows(statements.get(role.urn, []), "secretsmanager:GetSecretValue", arn):
                b.link(node.id, b.node_of(secret), "read", dotted=True)
                if not has_rds and "database" in secret.name:
                    b.add(None, "external_db", "external PostgreSQL", "outside", "db")
                    b.link(node.id, "external_db", "URL from the secret")
    for definition in b.run.of_type(TASK_DEFINITION):
        consumer = b.by_urn.get(definition.urn) or next(
            (n.id for n in b.nodes.values() if n.role and n.role == definition.inputs.get("taskRoleArn")), None
        )
        try:
            containers = as_document(definition.inputs.get("containerDefinitions") or "[]")
        except ValueError:
            continue
        for container in containers if isinstance(containers, list) else []:
            for entry in container.get("secrets") or [] if isinstance(container, dict) else []:
                secret = next(
                    (s for s in secrets if str(entry.get("valueFrom", "")).startswith(s.state.get("arn", "-"))), None
                )
                if secret is not None and consumer:
                    b.link(consumer, b.node_of(secret), "read", dotted=True)
                    if not has_rds and "database" in secret.name:
                        b.add(None, "external_db", "external PostgreSQL", "outside", "db")
                        b.link(consumer, "external_db", "URL from the secret")


# -- mermaid --------------------------------------------------------------------------------
def _quote(text: str) -> str:
    return text.replace('"', "#quot;")


def _mermaid(diagram: Diagram) -> str:
    lines = ["flowchart LR", '  internet(("Internet"))']
    by_zone: dict[str, list[Node]] = {}
    for node in diagram.nodes:
        by_zone.setdefault(node.zone, []).append(node)

    def emit(node: Node, indent: str) -> None:
        opening, closing = SHAPES[node.shape]
        lines.append(f"{indent}{node.id}{opening}{_quote(node.label)}{closing}")

    network_zones = [zone for zone in ("public", "private", "database") if zone in by_zone]
    if network_zones:
        lines.append(f'  subgraph vpc["{_quote(diagram.vpc_label)}"]')
        for zone in network_zones:
            lines.append(f'    subgraph {zone}["{ZONES[zone]}"]')
            for node in by_zone[zone]:
                emit(node, "      ")
            lines.append("    end")
        lines.append("  end")
    for zone in ("aws", "eks"):
        if zone in by_zone:
            lines.append(f'  subgraph {zone}_zone["{ZONES[zone]}"]')
            for node in by_zone[zone]:
                emit(node, "    ")
            lines.append("  end")
    for node in by_zone.get("outside", []):
        emit(node, "  ")
    for edge in diagram.edges:
        arrow = "-.->" if edge.dotted else "-->"
        label = f'|"{_quote(edge.label)}"|' if edge.label else ""
        lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(lines) + "\n"


def _in_flow_order(edges: list[Edge]) -> list[Edge]:
    """Edges ordered as work flows: from the internet and the triggers nothing points at, step by step."""
    targets = {e.target for e in edges}
    depth = {e.source: 0 for e in edges if e.source == "internet" or e.source not in targets}
    frontier = list(depth)
    while frontier:
        following = []
        for node in frontier:
            for edge in edges:
                if edge.source == node and edge.target not in depth:
                    depth[edge.target] = depth[node] + 1
                    following.append(edge.target)
        frontier = following
    return sorted(edges, key=lambda e: (e.dotted, depth.get(e.source, len(edges))))


def build_diagram(run: StackRun) -> Diagram:
    """The stack's diagram: nodes by tier, edges from listeners, security groups, IAM, pipes and schedules."""
    builder = _Builder(run)
    _nodes(builder)
    for launch in task_launches(run):
        _task(builder, launch)
    _edges(builder)
    vpc = next(iter(run.of_type("aws:ec2/vpc:Vpc")), None)
    zones = len(
        {
            s.inputs.get("availabilityZoneId") or s.inputs.get("availabilityZone")
            for s in run.of_type("aws:ec2/subnet:Subnet")
        }
    )
    vpc_label = (
        f"VPC {vpc.inputs.get('cidrBlock', '')}" + (f", {zones} AZs" if zones else "")
        if vpc
        else "existing VPC (public subnets)"
    )
    diagram = Diagram(run.stack, vpc_label, list(builder.nodes.values()), _in_flow_order(list(builder.edges.values())))
    diagram.mermaid = _mermaid(diagram)
    return diagram
