"""The offline preview's report: what a stack would create, grouped by component.

The report is plain data (serialisable to JSON) built from a :class:`StackRun`.
Further sections (cost, findings, diagram) attach to ``Report.sections`` under
their own names, so every renderer shows them without knowing their shape.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from simulation.harness import MESH_PROJECT, PROJECT, RecordedResource, StackRun, project_of

# Inputs worth showing per resource type; other types show their short scalar inputs.
KEY_SETTINGS: dict[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZoneId"),
    "aws:ec2/route:Route": ("destinationCidrBlock", "gatewayId", "natGatewayId", "networkInterfaceId"),
    "aws:ec2/instance:Instance": ("instanceType", "sourceDestCheck", "associatePublicIpAddress"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcEndpointType"),
    "aws:ec2/flowLog:FlowLog": ("trafficType", "logDestinationType"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "description"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "description",
        "ipProtocol",
        "fromPort",
        "toPort",
        "cidrIpv4",
        "cidrIpv6",
        "referencedSecurityGroupId",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "description",
        "ipProtocol",
        "fromPort",
        "toPort",
        "cidrIpv4",
        "referencedSecurityGroupId",
    ),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:rds/subnetGroup:SubnetGroup": ("name",),
    "aws:rds/instance:Instance": (
        "identifier",
        "instanceClass",
        "engineVersion",
        "allocatedStorage",
        "maxAllocatedStorage",
        "multiAz",
        "backupRetentionPeriod",
        "deletionProtection",
        "finalSnapshotIdentifier",
        "replicateSourceDb",
    ),
    "aws:rds/parameterGroup:ParameterGroup": ("family", "parameters"),
    "aws:secretsmanager/secret:Secret": ("description",),
    "aws:eks/cluster:Cluster": ("name", "version", "upgradePolicy", "enabledClusterLogTypes", "deletionProtection"),
    "aws:eks/nodeGroup:NodeGroup": ("nodeGroupName", "instanceTypes", "capacityType", "amiType", "scalingConfig"),
    "aws:eks/addon:Addon": ("addonName", "configurationValues"),
    "kubernetes:helm.sh/v3:Release": ("chart", "version", "namespace"),
    # Never the kubeconfig: it is a secret input.
    "pulumi:providers:kubernetes": ("enableServerSideApply",),
    "pulumi:providers:aws": ("region",),
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": (
        "capacityProviders",
        "defaultCapacityProviderStrategies",
    ),
    "aws:ecs/taskDefinition:TaskDefinition": ("family", "cpu", "memory", "runtimePlatform"),
    "aws:ecs/service:Service": ("name", "desiredCount", "enableExecuteCommand", "healthCheckGracePeriodSeconds"),
    "aws:appautoscaling/target:Target": ("resourceId", "minCapacity", "maxCapacity"),
    "aws:appautoscaling/policy:Policy": ("policyType", "resourceId"),
    "aws:lb/listener:Listener": (
        "port",
        "protocol",
        "sslPolicy",
        "routingHttpResponseStrictTransportSecurityHeaderValue",
    ),
    "aws:lb/targetGroup:TargetGroup": ("name", "targetType", "port", "deregistrationDelay"),
    "aws:lb/loadBalancer:LoadBalancer": (
        "name",
        "internal",
        "dropInvalidHeaderFields",
        "desyncMitigationMode",
        "enableDeletionProtection",
    ),
    "aws:route53/zone:Zone": ("name",),
    "aws:route53/record:Record": ("name", "type", "ttl", "records"),
    "aws:acm/certificate:Certificate": ("domainName", "validationMethod"),
    "aws:acm/certificateValidation:CertificateValidation": ("validationRecordFqdns",),
    "aws:wafv2/webAcl:WebAcl": ("name", "scope", "defaultAction"),
    "aws:wafv2/webAclAssociation:WebAclAssociation": ("resourceArn",),
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": ("logDestinationConfigs",),
    "aws:apigatewayv2/domainName:DomainName": ("domainName", "domainNameConfiguration"),
    "aws:apigatewayv2/apiMapping:ApiMapping": ("apiId", "stage"),
    "aws:pipes/pipe:Pipe": ("name", "desiredState", "sourceParameters", "targetParameters"),
    "aws:sfn/stateMachine:StateMachine": ("name", "type"),
    "aws:lambda/function:Function": (
        "name",
        "packageType",
        "memorySize",
        "timeout",
        "reservedConcurrentExecutions",
        "tracingConfig",
        "vpcConfig",
    ),
    "aws:scheduler/schedule:Schedule": ("name", "scheduleExpression", "state"),
    "aws:apigatewayv2/integration:Integration": ("integrationType", "payloadFormatVersion", "timeoutMilliseconds"),
    "aws:apigatewayv2/stage:Stage": ("name", "autoDeploy", "defaultRouteSettings"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "metricName",
        "statistic",
        "extendedStatistic",
        "comparisonOperator",
        "threshold",
        "period",
        "evaluationPeriods",
        "treatMissingData",
    ),
    "aws:sns/topic:Topic": ("name", "kmsMasterKeyId"),
    "aws:s3/bucket:Bucket": ("bucket", "forceDestroy"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (),
    "aws:s3/bucketPolicy:BucketPolicy": (),
    "aws:s3/bucketVersioning:BucketVersioning": (),
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": (),
    "aws:cloudfront/distribution:Distribution": ("priceClass", "aliases", "httpVersion"),
    "aws:cloudfront/originAccessControl:OriginAccessControl": (
        "name",
        "originAccessControlOriginType",
        "signingBehavior",
    ),
    "aws:sesv2/emailIdentity:EmailIdentity": ("emailIdentity", "configurationSetName", "dkimSigningAttributes"),
    "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes": (
        "mailFromDomain",
        "behaviorOnMxFailure",
    ),
    "aws:sesv2/configurationSet:ConfigurationSet": (
        "configurationSetName",
        "deliveryOptions",
        "reputationOptions",
        "suppressionOptions",
    ),
    "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination": ("eventDestinationName",),
    "aws:sns/topicSubscription:TopicSubscription": ("protocol", "endpoint", "rawMessageDelivery"),
    "aws:budgets/budget:Budget": ("limitAmount", "limitUnit", "timeUnit", "costFilters"),
}


def _run_task_steps(resource: RecordedResource) -> dict[str, Any]:
    """How each ECS RunTask step of a state machine launches its task (hidden in the definition JSON)."""
    try:
        states = json.loads(resource.inputs.get("definition") or "{}").get("States", {})
    except ValueError:
        return {}
    shown: dict[str, Any] = {}
    for name, state in states.items():
        if not str(state.get("Resource", "")).startswith("arn:aws:states:::ecs:runTask"):
            continue
        arguments = state.get("Arguments") or state.get("Parameters") or {}
        network = arguments.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
        overrides = arguments.get("Overrides", {}).get("ContainerOverrides", [{}])[0]
        shown[f"{name}.capacity"] = [
            f"{s['CapacityProvider']}:{s['Weight']}" for s in arguments.get("CapacityProviderStrategy", [])
        ]
        shown[f"{name}.launchType"] = arguments.get("LaunchType", "none")
        shown[f"{name}.publicIp"] = network.get("AssignPublicIp", "DISABLED")
        shown[f"{name}.cpu/memory"] = f"{overrides.get('Cpu', 'unset')}/{overrides.get('Memory', 'unset')}"
        shown[f"{name}.retries"] = [
            f"{'|'.join(r['ErrorEquals'])} x{r.get('MaxAttempts', 3)}" for r in state.get("Retry", [])
        ]
        shown[f"{name}.onFailure"] = [c["Next"] for c in state.get("Catch", [])]
    return shown


# Settings computed from an input when the input itself is too large to show.
def _default_tags(provider: RecordedResource) -> dict[str, Any]:
    # Provider inputs travel as JSON text; one setting per tag keeps each readable.
    tags = json.loads(provider.inputs.get("defaultTags") or "{}").get("tags", {})
    return {f"tag:{key}": value for key, value in tags.items()}


def _web_acl_rules(acl: RecordedResource) -> dict[str, Any]:
    """Each rule by priority: the managed group (with rules it only counts) or the rate limit."""
    shown: dict[str, Any] = {}
    for rule in sorted(acl.inputs.get("rules") or [], key=lambda r: r.get("priority", 0)):
        statement = rule.get("statement") or {}
        managed, rate = statement.get("managedRuleGroupStatement"), statement.get("rateBasedStatement")
        if managed:
            counted = [
                o["name"] for o in managed.get("ruleActionOverrides") or [] if "count" in o.get("actionToUse", {})
            ]
            text = f"{managed.get('vendorName')}/{managed.get('name')}" + (
                f" (count only: {', '.join(counted)})" if counted else ""
            )
        elif rate:
            text = (
                f"block over {float(rate.get('limit', 0)):g} requests per {rate.get('aggregateKeyType')} "
                f"in {float(rate.get('evaluationWindowSec', 300)):g} s"
            )
        else:
            text = rule.get("name")
        shown[f"rule {float(rule.get('priority', 0)):g}"] = text
    return shown


def _alias(record: RecordedResource) -> dict[str, Any]:
    aliases = record.inputs.get("aliases") or []
    return {"alias": aliases[0].get("name")} if aliases else {}


def _redacted(logging: RecordedResource) -> dict[str, Any]:
    fields = logging.inputs.get("redactedFields") or []
    headers = [f["singleHeader"]["name"] for f in fields if "singleHeader" in f]
    return {"redactedHeaders": headers}


def _days(value: Any) -> str:
    return f"{float(value):g} d" if isinstance(value, int | float) else f"{value} d"


def _bucket_settings(resource: RecordedResource) -> dict[str, Any]:
    """What an S3 bucket sub-resource sets, which its nested inputs hide."""
    inputs = resource.inputs
    shown: dict[str, Any] = {}
    if "tags" in inputs and inputs["tags"]:
        shown["tags"] = inputs["tags"]
    if "rule" in inputs:
        shown["objectOwnership"] = (inputs["rule"] or {}).get("objectOwnership")
    for rule in inputs.get("rules") or []:
        default = rule.get("applyServerSideEncryptionByDefault")
        if default:
            shown["sseAlgorithm"] = default.get("sseAlgorithm")
            shown["bucketKeyEnabled"] = rule.get("bucketKeyEnabled")
            continue
        steps = [f"{t.get('storageClass')} after {_days(t.get('days'))}" for t in rule.get("transitions") or []]
        if rule.get("abortIncompleteMultipartUpload"):
            days = _days(rule["abortIncompleteMultipartUpload"].get("daysAfterInitiation"))
            steps.append(f"abort multipart after {days}")
        if rule.get("noncurrentVersionExpiration"):
            steps.append(
                f"noncurrent versions expire after {_days(rule['noncurrentVersionExpiration'].get('noncurrentDays'))}"
            )
        if (rule.get("expiration") or {}).get("days"):
            steps.append(f"expire after {_days(rule['expiration']['days'])}")
        shown[str(rule.get("id"))] = f"{(rule.get('filter') or {}).get('prefix') or '(all)'}: {', '.join(steps)}"
    if "versioningConfiguration" in inputs:
        shown["status"] = (inputs["versioningConfiguration"] or {}).get("status")
    for rule in inputs.get("corsRules") or []:
        shown["allowedOrigins"] = rule.get("allowedOrigins")
        shown["allowedMethods"] = rule.get("allowedMethods")
    if "policy" in inputs:
        try:
            statements = json.loads(inputs["policy"]).get("Statement", [])
        except (TypeError, ValueError):
            statements = []
        shown["statements"] = [f"{st.get('Sid')} ({st.get('Effect')})" for st in statements]
    return {key: value for key, value in shown.items() if value is not None}


def _distribution_settings(resource: RecordedResource) -> dict[str, Any]:
    behavior = resource.inputs.get("defaultCacheBehavior") or {}
    certificate = resource.inputs.get("viewerCertificate") or {}
    origins = resource.inputs.get("origins") or []
    return {
        "viewerProtocolPolicy": behavior.get("viewerProtocolPolicy"),
        "allowedMethods": behavior.get("allowedMethods"),
        "minimumProtocolVersion": certificate.get("minimumProtocolVersion") or "(default certificate)",
        "originPath": origins[0].get("originPath") if origins else None,
        "originAccessControl": bool(origins and origins[0].get("originAccessControlId")),
    }


def _event_destination(resource: RecordedResource) -> dict[str, Any]:
    destination = resource.inputs.get("eventDestination") or {}
    return {
        "matchingEventTypes": destination.get("matchingEventTypes"),
        "snsTopic": bool(destination.get("snsDestination")),
    }


DERIVED_SETTINGS: dict[str, Callable[[RecordedResource], dict[str, Any]]] = {
    "aws:sfn/stateMachine:StateMachine": _run_task_steps,
    "aws:wafv2/webAcl:WebAcl": _web_acl_rules,
    "aws:route53/record:Record": _alias,
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": _redacted,
    "pulumi:providers:aws": _default_tags,
    "aws:s3/bucket:Bucket": _bucket_settings,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _bucket_settings,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _bucket_settings,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _bucket_settings,
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_settings,
    "aws:s3/bucketVersioning:BucketVersioning": _bucket_settings,
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": _bucket_settings,
    "aws:cloudfront/distribution:Distribution": _distribution_settings,
    "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination": _event_destination,
}
_NOISE = {"tags", "tagsAll", "policy", "assumeRolePolicy", "userData", "containerDefinitions", "dashboardBody"}
_MAX_VALUE = 72


@dataclass
class ResourceLine:
    type: str
    name: str
    settings: dict[str, Any]
    protect: bool = False


@dataclass
class ComponentGroup:
    type: str
    name: str
    resources: list[ResourceLine] = field(default_factory=list)


@dataclass
class Report:
    stack: str
    region: str
    environment: str
    topology: str
    components: list[ComponentGroup]
    counts: dict[str, int]
    outputs: dict[str, Any]
    sections: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False, default=str)


def _whole_numbers(value: Any) -> Any:
    """Numbers cross the engine's wire as doubles; show 512, not 512.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _short(value: Any) -> Any:
    value = _whole_numbers(value)
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return value if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def key_settings(resource: RecordedResource) -> dict[str, Any]:
    """The inputs a reviewer wants to see for this resource."""
    wanted = KEY_SETTINGS.get(resource.type)
    if wanted is None:
        wanted = tuple(
            k for k, v in resource.inputs.items() if k not in _NOISE and isinstance(v, (str, int, float, bool))
        )[:6]
    shown = {k: resource.inputs[k] for k in wanted if resource.inputs.get(k) not in (None, "", [])}
    derive = DERIVED_SETTINGS.get(resource.type)
    if derive:
        shown.update(derive(resource))
    return {k: _short(v) for k, v in shown.items()}


def build_report(run: StackRun) -> Report:
    """What ``run`` declares, grouped by component; stack facts from the config the program loaded."""
    groups: dict[str, ComponentGroup] = {}
    for resource in run.resources:
        if resource.type.startswith(f"{PROJECT}:"):
            kind = resource.type.split(":")[-1]
            # The mesh project's components are a group of their own (another Pulumi project).
            if project_of(resource.urn) == MESH_PROJECT:
                kind = f"mesh/{kind}"
            groups.setdefault(resource.urn, ComponentGroup(kind, resource.name))
    stack_level = ComponentGroup("Stack", run.stack)
    mesh_level = ComponentGroup("mesh/Stack", run.stack)
    for resource in run.resources:
        if not resource.custom:
            continue
        owner = run.component_of(resource)
        top = mesh_level if project_of(resource.urn) == MESH_PROJECT else stack_level
        group = groups[owner.urn] if owner else top
        group.resources.append(ResourceLine(resource.type, resource.name, key_settings(resource), resource.protect))
    # The run's canonical order (type, then name) orders the groups and the lines within each.
    ordered = [g for g in (stack_level, mesh_level) if g.resources] + [g for g in groups.values() if g.resources]
    counts = Counter(r.type for r in run.resources if r.custom)
    return Report(
        stack=run.stack,
        region=run.config.region if run.config else "",
        environment=run.config.environment.value if run.config else "",
        topology=run.config.topology.value if run.config else "",
        components=ordered,
        counts=dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
        outputs={**run.outputs, **({MESH_PROJECT: run.mesh_outputs} if run.mesh_outputs else {})},
    )
