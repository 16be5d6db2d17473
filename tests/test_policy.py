"""The policy pack (policy/): each rule fires on a resource built to break it and stays
quiet on its fixed twin; no committed stack violates a mandatory rule; the rules behave
the same inside pulumi_policy's analyzer; the offline preview reports and gates on them."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import pkgutil
import re
import runpy
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

import policy.rules
import preview.__main__ as preview_main
from policy.offline import Finding, evaluate
from policy.rules import POLICIES
from preview.checks.policy import policy_section
from preview.report.docs import released_overrides
from simulation.harness import ROOT, STACKS, RecordedResource, StackRun, read_stack_file, run_stack, stack_config
from tests.conftest import committed_run

PROVIDER_URN = "urn:pulumi:test::flowbuilder::pulumi:providers:aws::flowbuilder-test-aws"
RULES = {rule.name: rule for rule in POLICIES}


# -- building small stacks --------------------------------------------------------
@dataclass
class Res:
    """One resource of a synthetic stack: inputs, and outputs beyond them (arn, id, ...)."""

    type: str
    name: str
    props: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scenario:
    resources: list[Res]
    environment: str = "prod"
    topology: str = "standard"


def synthetic_run(scenario: Scenario) -> tuple[StackRun, dict[str, str]]:
    tags = {"project": "flowbuilder", "stack": "test", "environment": scenario.environment}
    provider = RecordedResource(
        urn=PROVIDER_URN,
        type="pulumi:providers:aws",
        name="flowbuilder-test-aws",
        parent=None,
        custom=True,
        inputs={"region": "us-east-1", "defaultTags": json.dumps({"tags": tags})},
        state={"id": "provider-id"},
    )
    resources = [provider]
    for res in scenario.resources:
        resources.append(
            RecordedResource(
                urn=f"urn:pulumi:test::flowbuilder::{res.type}::{res.name}",
                type=res.type,
                name=res.name,
                parent=None,
                custom=True,
                inputs=res.props,
                state={**res.props, **res.outputs},
                provider=f"{PROVIDER_URN}::provider-id",
            )
        )
    config = {
        "aws:region": "us-east-1",
        "flowbuilder:environment": scenario.environment,
        "flowbuilder:topology": scenario.topology,
    }
    return StackRun("test", resources, {}, set()), config


def findings_of(rule: str, scenario: Scenario) -> list[Finding]:
    run, config = synthetic_run(scenario)
    return evaluate(run, config, [RULES[rule]])


# -- resources that pass everything, to break one setting at a time ----------------
def rds(**changes: Any) -> Res:
    props = {
        "engine": "postgres",
        "storageEncrypted": True,
        "publiclyAccessible": False,
        "backupRetentionPeriod": 30,
        "multiAz": True,
        "deletionProtection": True,
        "skipFinalSnapshot": False,
        "iamDatabaseAuthenticationEnabled": True,
        "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
        "manageMasterUserPassword": True,
        "performanceInsightsEnabled": True,
        "engineLifecycleSupport": "open-source-rds-extended-support-disabled",
    }
    return Res("aws:rds/instance:Instance", "db", {**props, **changes})


def container(**changes: Any) -> dict[str, Any]:
    return {
        "name": "api",
        "image": "repo/api:abc123",
        "readonlyRootFilesystem": True,
        "privileged": False,
        "environment": [
            {"name": "DB_SECRET_ARN", "value": "arn:aws:secretsmanager:us-east-1:1:secret:db"},
            {"name": "DB_SECRET_KIND", "value": "rds-master-json"},
            {"name": "DATABASE_URL", "value": "postgresql://db.internal:5432/app"},
        ],
        "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db:password::"}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": "/flowbuilder/api",
                "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "api",
            },
        },
        **changes,
    }


def task(*containers: dict[str, Any]) -> Res:
    return Res(
        "aws:ecs/taskDefinition:TaskDefinition",
        "api",
        {"requiresCompatibilities": ["FARGATE"], "containerDefinitions": json.dumps(list(containers) or [container()])},
    )


def service(**changes: Any) -> Res:
    props = {
        "networkConfiguration": {"subnets": ["subnet-private"], "assignPublicIp": False},
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "enableExecuteCommand": False,
    }
    return Res("aws:ecs/service:Service", "api", {**props, **changes})


def pipe(assign_public_ip: str = "DISABLED", environments: list[dict[str, str]] | None = None) -> Res:
    return Res(
        "aws:pipes/pipe:Pipe",
        "worker",
        {
            "targetParameters": {
                "ecsTaskParameters": {
                    "networkConfiguration": {
                        "awsVpcConfiguration": {"assignPublicIp": assign_public_ip, "subnets": ["subnet-a"]}
                    },
                    "overrides": {"containerOverrides": [{"name": "worker", "environments": environments or []}]},
                }
            }
        },
    )


def network(public_route: bool) -> list[Res]:
    """A subnet whose route table sends 0.0.0.0/0 to an internet gateway (public) or to a NAT (private)."""
    target = {"gatewayId": "igw-0a1"} if public_route else {"natGatewayId": "nat-0a1"}
    return [
        Res("aws:ec2/internetGateway:InternetGateway", "igw", {"vpcId": "vpc-1"}, {"id": "igw-0a1"}),
        Res("aws:ec2/subnet:Subnet", "subnet", {"vpcId": "vpc-1", "mapPublicIpOnLaunch": False}, {"id": "subnet-x"}),
        Res(
            "aws:ec2/routeTableAssociation:RouteTableAssociation",
            "rta",
            {"subnetId": "subnet-x", "routeTableId": "rtb-x"},
        ),
        Res("aws:ec2/route:Route", "route", {"routeTableId": "rtb-x", "destinationCidrBlock": "0.0.0.0/0", **target}),
    ]


LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/api/1"


def alb(**changes: Any) -> Res:
    props = {
        "loadBalancerType": "application",
        "internal": False,
        "dropInvalidHeaderFields": True,
        "enableDeletionProtection": True,
        "accessLogs": {"enabled": True, "bucket": "alb-logs"},
    }
    return Res("aws:lb/loadBalancer:LoadBalancer", "alb", {**props, **changes}, {"arn": LB_ARN})


def listener(name: str, protocol: str, **changes: Any) -> Res:
    props = {"loadBalancerArn": LB_ARN, "protocol": protocol, "port": 443 if protocol == "HTTPS" else 80}
    if protocol == "HTTPS":
        props |= {
            "certificateArn": "arn:aws:acm:us-east-1:1:certificate/x",
            "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "defaultActions": [{"type": "forward", "targetGroupArn": "tg"}],
            "routingHttpResponseStrictTransportSecurityHeaderValue": "max-age=31536000; includeSubDomains",
        }
    else:
        props |= {
            "defaultActions": [
                {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
            ]
        }
    return Res("aws:lb/listener:Listener", name, {**props, **changes})


WEB_ACL_ARN = "arn:aws:wafv2:us-east-1:1:regional/webacl/api/0f1e2d3c"


def web_acl() -> Res:
    return Res("aws:wafv2/webAcl:WebAcl", "waf", {"name": "api", "scope": "REGIONAL"}, {"arn": WEB_ACL_ARN})


def waf_association() -> Res:
    return Res(
        "aws:wafv2/webAclAssociation:WebAclAssociation", "waf", {"webAclArn": WEB_ACL_ARN, "resourceArn": LB_ARN}
    )


def waf_logging(*headers: str) -> Res:
    return Res(
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        "waf",
        {
            "resourceArn": WEB_ACL_ARN,
            "logDestinationConfigs": ["arn:aws:logs:us-east-1:1:log-group:aws-waf-logs-x"],
            "redactedFields": [{"singleHeader": {"name": header}} for header in headers],
        },
    )


def queue(name: str, **props: Any) -> Res:
    arn = f"arn:aws:sqs:us-east-1:1:{name}"
    return Res(
        "aws:sqs/queue:Queue",
        name,
        {"name": name, "sqsManagedSseEnabled": True, **props},
        {"arn": arn, "url": f"https://sqs/{name}"},
    )


def redrive(target: str, count: int = 3) -> str:
    return json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:1:{target}", "maxReceiveCount": count})


def policy_doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def role_policy(*statements: dict[str, Any]) -> Res:
    return Res("aws:iam/rolePolicy:RolePolicy", "worker", {"role": "worker", "policy": policy_doc(*statements)})


def allow(actions: Any, resources: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def role(*statements: dict[str, Any]) -> Res:
    return Res("aws:iam/role:Role", "task", {"assumeRolePolicy": policy_doc(*statements)})


def trust(principal: Any, condition: dict[str, Any] | None = None, action: Any = "sts:AssumeRole") -> dict[str, Any]:
    entry = {"Effect": "Allow", "Principal": principal, "Action": action}
    return entry | ({"Condition": condition} if condition else {})


SOURCE_ACCOUNT = {"StringEquals": {"aws:SourceAccount": "123456789012"}}
BOUNDARY_NAME = "flowbuilder-permissions-boundary"
BOUNDARY = f"arn:aws:iam::123456789012:policy/{BOUNDARY_NAME}"


def bounded(resource: Res, boundary: str = BOUNDARY) -> Res:
    return replace(resource, props={**resource.props, "permissionsBoundary": boundary})


FUNCTION_NAME = "flowbuilder-test-scheduler"


def function(**changes: Any) -> Res:
    props = {
        "name": FUNCTION_NAME,
        "reservedConcurrentExecutions": 1,
        "tracingConfig": {"mode": "Active"},
        "environment": {"variables": {"QUEUE_URL": "https://sqs/work", "DB_SECRET_ARN": "arn:aws:secretsmanager:x"}},
    }
    return Res(
        "aws:lambda/function:Function",
        "scheduler",
        {**props, **changes},
        {"arn": f"arn:aws:lambda:us-east-1:1:function:{FUNCTION_NAME}"},
    )


def eks(**changes: Any) -> Res:
    props = {
        "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
        "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}},
        "vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True},
        "upgradePolicy": {"supportType": "STANDARD"},
    }
    return Res("aws:eks/cluster:Cluster", "mesh", {**props, **changes})


def launch_template(**changes: Any) -> Res:
    props = {
        "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeType": "gp3", "encrypted": "true"}}],
    }
    return Res("aws:ec2/launchTemplate:LaunchTemplate", "nodes", {**props, **changes})


def k8s_container(**changes: Any) -> dict[str, Any]:
    return {
        "name": "api",
        "image": "repo/api:1.0.0",
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "readinessProbe": {"httpGet": {"path": "/health", "port": 8080}},
        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "privileged": False},
        **changes,
    }


def deployment(*containers: dict[str, Any], pod_security: dict[str, Any] | None = None, name: str = "api") -> Res:
    pod_spec: dict[str, Any] = {"containers": list(containers) or [k8s_container()]}
    if pod_security is not None:
        pod_spec["securityContext"] = pod_security
    return Res(
        "kubernetes:apps/v1:Deployment",
        name,
        {
            "metadata": {"name": name, "namespace": "mindflow"},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name, "tier": "web"}}, "spec": pod_spec},
            },
        },
    )


def hpa(target: str, namespace: str = "mindflow") -> Res:
    return Res(
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        f"{target}-hpa",
        {
            "metadata": {"name": target, "namespace": namespace},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                "minReplicas": 2,
                "maxReplicas": 5,
            },
        },
    )


def pdb(labels: dict[str, str], namespace: str = "mindflow") -> Res:
    return Res(
        "kubernetes:policy/v1:PodDisruptionBudget",
        "api-pdb",
        {
            "metadata": {"name": "api", "namespace": namespace},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}},
        },
    )


LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECRET = "aws:secretsmanager/secret:Secret"
TOPIC = "aws:sns/topic:Topic"
STACK_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0b1e0a7e-5a3c-4f6e-9d2b-6f0c1a2b3c4d"
OTHER_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def stack_key() -> Res:
    return Res(
        "aws:kms/key:Key",
        "stack",
        {"enableKeyRotation": True},
        {"arn": STACK_KEY_ARN, "keyId": STACK_KEY_ARN.rsplit("/", 1)[1], "id": STACK_KEY_ARN.rsplit("/", 1)[1]},
    )


def repository(encryption: str, key: str | None = None) -> Res:
    configuration: dict[str, Any] = {"encryptionType": encryption}
    if key:
        configuration["kmsKey"] = key
    return Res(
        "aws:ecr/repository:Repository",
        "api",
        {"name": "flowbuilder-test/api", "encryptionConfigurations": [configuration]},
    )


def endpoint(kind: str = "Interface") -> Res:
    return Res(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "sqs",
        {"vpcEndpointType": kind, "serviceName": "com.amazonaws.us-east-1.sqs", "subnetIds": ["subnet-a", "subnet-b"]},
    )


# -- every rule: a broken resource that fires it, its fixed twin that does not -------
@dataclass
class Case:
    rule: str
    bad: Scenario
    good: Scenario
    expect: str
    id: str = ""


def case(
    rule: str,
    bad: list[Res],
    good: list[Res],
    expect: str,
    *,
    env: str = "prod",
    topology: str = "standard",
    good_env: str | None = None,
    good_topology: str | None = None,
    id: str = "",
) -> Case:
    return Case(
        rule,
        Scenario(bad, env, topology),
        Scenario(good, good_env or env, good_topology or topology),
        expect,
        id or rule,
    )


# -- S3 buckets and SES identities ----------------------------------------------------------
NAME = "flowbuilder-test-uploads-123456789012"
ARN = f"arn:aws:s3:::{NAME}"
TLS_DENY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": [ARN, f"{ARN}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def bucket_resources(**changes: Any) -> list[Res]:
    """A bucket with every setting the rules ask for; ``changes`` replaces one (None drops it)."""
    settings = {
        "block": Res(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "block",
            {
                "bucket": NAME,
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
        ),
        "ownership": Res(
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "ownership",
            {"bucket": NAME, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
        ),
        "encryption": Res(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "encryption",
            {"bucket": NAME, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
        ),
        "policy": Res(
            "aws:s3/bucketPolicy:BucketPolicy",
            "policy",
            {"bucket": NAME, "policy": json.dumps({"Version": "2012-10-17", "Statement": [TLS_DENY]})},
        ),
    }
    for key, value in changes.items():
        settings[key] = value
    bucket = Res("aws:s3/bucket:Bucket", "uploads", {"bucket": NAME}, {"arn": ARN, "id": NAME})
    return [bucket, *(res for res in settings.values() if res is not None)]


def identity(configuration_set: str | None) -> Res:
    props: dict[str, Any] = {"emailIdentity": "example.com"}
    if configuration_set:
        props["configurationSetName"] = configuration_set
    return Res("aws:sesv2/emailIdentity:EmailIdentity", "email", props)


CONFIGURATION_SET = Res(
    "aws:sesv2/configurationSet:ConfigurationSet", "email", {"configurationSetName": "flowbuilder-test-email"}
)
DESTINATION = Res(
    "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination",
    "email",
    {"configurationSetName": "flowbuilder-test-email", "eventDestinationName": "backend-events"},
)


def distribution(viewer_policy: str, access_control: str | None = "oac-1") -> Res:
    origin = {"originId": "uploads", "domainName": f"{NAME}.s3.us-east-1.amazonaws.com"}
    if access_control:
        origin["originAccessControlId"] = access_control
    return Res(
        "aws:cloudfront/distribution:Distribution",
        "cdn",
        {"defaultCacheBehavior": {"viewerProtocolPolicy": viewer_policy}, "origins": [origin]},
    )


def bucket_without(key: str) -> list[Res]:
    return bucket_resources(**{key: None})


def replication_group(**changes: Any) -> Res:
    props = {
        "engine": "valkey",
        "atRestEncryptionEnabled": True,
        "transitEncryptionEnabled": True,
        "transitEncryptionMode": "required",
        "userGroupIds": ["users"],
    }
    return Res("aws:elasticache/replicationGroup:ReplicationGroup", "valkey", {**props, **changes})


def serverless_cache(**changes: Any) -> Res:
    return Res(
        "aws:elasticache/serverlessCache:ServerlessCache",
        "cache",
        {"engine": "valkey", "userGroupId": "users", **changes},
    )


def backup_plan_selecting(tag_value: str) -> list[Res]:
    return [
        Res("aws:backup/plan:Plan", "plan", {"name": "plan"}, {"id": "plan-id"}),
        Res(
            "aws:backup/selection:Selection",
            "tagged",
            {
                "planId": "plan-id",
                "selectionTags": [{"type": "STRINGEQUALS", "key": "backup-plan", "value": tag_value}],
            },
        ),
    ]


CASES = [
    # RDS
    case("rds-storage-encrypted", [rds(storageEncrypted=False)], [rds()], "storageEncrypted is False"),
    case("rds-not-public", [rds(publiclyAccessible=True)], [rds()], "publiclyAccessible is true"),
    case(
        "rds-backup-retention",
        [rds(backupRetentionPeriod=1)],
        [rds(backupRetentionPeriod=7)],
        "1 day; the staging environment needs at least 7 days",
        env="staging",
        id="rds-backup-retention-staging",
    ),
    case(
        "rds-backup-retention",
        [rds(backupRetentionPeriod=0)],
        [rds(backupRetentionPeriod=1)],
        "0 days; the dev environment needs at least 1 day",
        env="dev",
        id="rds-backup-retention-dev",
    ),
    case(
        "rds-prod-resilience",
        [rds(multiAz=False)],
        [rds(multiAz=False)],
        "multiAz must be true in prod",
        good_env="staging",
        id="rds-prod-resilience-multi-az",
    ),
    case(
        "rds-prod-resilience",
        [rds(deletionProtection=False)],
        [rds()],
        "deletionProtection must be true in prod",
        id="rds-prod-resilience-deletion-protection",
    ),
    case(
        "rds-prod-resilience",
        [rds(skipFinalSnapshot=True)],
        [rds()],
        "final snapshot",
        id="rds-prod-resilience-snapshot",
    ),
    case(
        "rds-iam-authentication",
        [rds(iamDatabaseAuthenticationEnabled=False)],
        [rds()],
        "iamDatabaseAuthenticationEnabled",
    ),
    case("rds-log-exports", [rds(enabledCloudwatchLogsExports=["upgrade"])], [rds()], "lacks 'postgresql'"),
    case(
        "rds-managed-master-password",
        [rds(manageMasterUserPassword=False, password="hunter22")],
        [rds()],
        "password is set",
    ),
    case(
        "rds-force-tls",
        [
            Res(
                "aws:rds/parameterGroup:ParameterGroup",
                "pg",
                {"family": "postgres16", "parameters": [{"name": "rds.force_ssl", "value": "0"}]},
            )
        ],
        [
            Res(
                "aws:rds/parameterGroup:ParameterGroup",
                "pg",
                {"family": "postgres16", "parameters": [{"name": "rds.force_ssl", "value": "1"}]},
            )
        ],
        "rds.force_ssl is 0",
    ),
    case(
        "rds-performance-insights-prod",
        [rds(performanceInsightsEnabled=False)],
        [rds(performanceInsightsEnabled=False)],
        "Performance Insights is off in prod",
        good_env="dev",
    ),
    # ECS
    case(
        "ecs-no-plaintext-secrets",
        [task(container(environment=[{"name": "DB_PASSWORD", "value": "hunter22"}]))],
        [task()],
        "gets DB_PASSWORD as a plain environment variable",
        id="ecs-no-plaintext-secrets-by-name",
    ),
    case(
        "ecs-no-plaintext-secrets",
        [task(container(environment=[{"name": "DATABASE_URL", "value": "postgresql://app:s3cret@db:5432/app"}]))],
        [task()],
        "gets DATABASE_URL",
        id="ecs-no-plaintext-secrets-url-with-password",
    ),
    case(
        "ecs-no-plaintext-secrets",
        [pipe(environments=[{"name": "API_TOKEN", "value": "t0k3n"}])],
        [pipe(environments=[{"name": "MESSAGE_ID", "value": "$.messageId"}])],
        "gets API_TOKEN",
        id="ecs-no-plaintext-secrets-pipe",
    ),
    case(
        "ecs-read-only-root-filesystem",
        [task(container(readonlyRootFilesystem=False))],
        [task()],
        "readonlyRootFilesystem",
    ),
    case("ecs-not-privileged", [task(container(privileged=True))], [task()], "container api is privileged"),
    case(
        "ecs-awslogs",
        [task(container(logConfiguration={"logDriver": "json-file"}))],
        [task()],
        "not awslogs",
        id="ecs-awslogs-driver",
    ),
    case(
        "ecs-awslogs",
        [
            task(
                container(
                    logConfiguration={"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "r"}}
                )
            )
        ],
        [task()],
        "lacks awslogs-stream-prefix",
        id="ecs-awslogs-options",
    ),
    case(
        "ecs-no-public-ip",
        [service(networkConfiguration={"subnets": ["subnet-a"], "assignPublicIp": True})],
        [service(networkConfiguration={"subnets": ["subnet-a"], "assignPublicIp": True})],
        "assignPublicIp is true",
        good_topology="zero-scale",
        id="ecs-no-public-ip-service",
    ),
    case(
        "ecs-no-public-ip",
        [pipe("ENABLED")],
        [pipe("DISABLED")],
        "assignPublicIp is ENABLED",
        id="ecs-no-public-ip-pipe",
    ),
    case(
        "ecs-service-private-subnets",
        [*network(public_route=True), service(networkConfiguration={"subnets": ["subnet-x"]})],
        [*network(public_route=False), service(networkConfiguration={"subnets": ["subnet-x"]})],
        "runs in public subnets subnet-x",
    ),
    case(
        "ecs-circuit-breaker",
        [service(deploymentCircuitBreaker={"enable": True, "rollback": False})],
        [service()],
        "enable and rollback true",
    ),
    case(
        "ecs-exec-off-in-prod",
        [service(enableExecuteCommand=True)],
        [service(enableExecuteCommand=True)],
        "ECS Exec is on in prod",
        good_env="dev",
    ),
    case(
        "ecs-container-insights-prod",
        [Res("aws:ecs/cluster:Cluster", "cluster", {"settings": [{"name": "containerInsights", "value": "disabled"}]})],
        [Res("aws:ecs/cluster:Cluster", "cluster", {"settings": [{"name": "containerInsights", "value": "enabled"}]})],
        "Container Insights is off in prod",
    ),
    # ALB
    case(
        "alb-tls-policy",
        [listener("https", "HTTPS", sslPolicy="ELBSecurityPolicy-2016-08")],
        [listener("https", "HTTPS")],
        "ELBSecurityPolicy-2016-08 allows TLS below 1.2",
        id="alb-tls-policy-2016",
    ),
    case(
        "alb-tls-policy",
        [listener("https", "HTTPS", sslPolicy="ELBSecurityPolicy-TLS13-1-0-2021-06")],
        [listener("https", "HTTPS", sslPolicy="ELBSecurityPolicy-FS-1-2-Res-2020-10")],
        "TLS13-1-0-2021-06 allows TLS below 1.2",
        id="alb-tls-policy-tls13-with-tls10",
    ),
    case(
        "alb-http-redirects-to-https",
        [
            alb(),
            listener("https", "HTTPS"),
            listener("http", "HTTP", defaultActions=[{"type": "forward", "targetGroupArn": "tg"}]),
        ],
        [alb(), listener("https", "HTTPS"), listener("http", "HTTP")],
        "its HTTP listener must redirect to HTTPS",
    ),
    case(
        "alb-drop-invalid-headers",
        [alb(dropInvalidHeaderFields=False)],
        [alb()],
        "dropInvalidHeaderFields must be true",
    ),
    case("alb-prod-protection", [alb(accessLogs={"enabled": False, "bucket": "alb-logs"})], [alb()], "access logs"),
    case(
        "alb-https-outside-dev",
        [alb(), listener("http", "HTTP", defaultActions=[{"type": "forward", "targetGroupArn": "tg"}])],
        [alb(), listener("http", "HTTP", defaultActions=[{"type": "forward", "targetGroupArn": "tg"}])],
        "the staging environment serves plain HTTP only; set flowbuilder:domain",
        env="staging",
        good_env="dev",
    ),
    case(
        "alb-https-outside-dev",
        [alb(), listener("http", "HTTP", defaultActions=[{"type": "forward", "targetGroupArn": "tg"}])],
        [alb(), listener("https", "HTTPS"), listener("http", "HTTP")],
        "the prod environment serves plain HTTP only",
        id="alb-https-outside-dev-prod",
    ),
    case(
        "alb-hsts",
        [alb(), listener("https", "HTTPS", routingHttpResponseStrictTransportSecurityHeaderValue=None)],
        [alb(), listener("https", "HTTPS")],
        "without Strict-Transport-Security of at least 300 s",
    ),
    case(
        "alb-hsts",
        [alb(), listener("https", "HTTPS", routingHttpResponseStrictTransportSecurityHeaderValue="max-age=0")],
        [alb(), listener("https", "HTTPS", routingHttpResponseStrictTransportSecurityHeaderValue="max-age=300")],
        "is max-age=0",
        id="alb-hsts-max-age-zero",
    ),
    case(
        "alb-tls-policy-current",
        [alb(), listener("https", "HTTPS", sslPolicy="ELBSecurityPolicy-TLS-1-2-2017-01")],
        [alb(), listener("https", "HTTPS", sslPolicy="ELBSecurityPolicy-TLS13-1-3-2021-06")],
        "does not offer TLS 1.3",
    ),
    # WAF
    case(
        "waf-associated",
        [web_acl()],
        [web_acl(), waf_association()],
        "associated with nothing",
    ),
    case(
        "waf-on-public-load-balancers",
        [alb(), web_acl()],
        [alb(), web_acl(), waf_association()],
        "has no WAF web ACL",
        env="staging",
    ),
    case(
        "waf-on-public-load-balancers",
        [alb()],
        [alb()],
        "the prod environment has no WAF web ACL",
        good_env="dev",
        id="waf-on-public-load-balancers-dev-exempt",
    ),
    case(
        "waf-logs-redact-credentials",
        [waf_logging("authorization")],
        [waf_logging("authorization", "cookie")],
        "carry the cookie header",
    ),
    # SQS / SNS
    case(
        "sqs-encrypted",
        [queue("work", sqsManagedSseEnabled=False)],
        [queue("work", kmsMasterKeyId="alias/flowbuilder")],
        "stored unencrypted",
    ),
    case(
        "sqs-work-queue-has-dlq",
        [queue("work"), queue("backlog")],
        [queue("work", redrivePolicy=redrive("failed")), queue("failed")],
        "a work queue without a redrive policy",
    ),
    case(
        "sqs-dlq-outlives-source",
        [
            queue("work", redrivePolicy=redrive("failed"), messageRetentionSeconds=345600),
            queue("failed", messageRetentionSeconds=345600),
        ],
        [
            queue("work", redrivePolicy=redrive("failed"), messageRetentionSeconds=345600),
            queue("failed", messageRetentionSeconds=1209600),
        ],
        "keeps messages 4 days, not longer than work",
    ),
    case(
        "sns-encrypted",
        [Res("aws:sns/topic:Topic", "alerts", {"kmsMasterKeyId": "alias/aws/sns"})],
        [Res("aws:sns/topic:Topic", "alerts", {"kmsMasterKeyId": "arn:aws:kms:us-east-1:1:key/cmk"})],
        "CloudWatch alarms and AWS Budgets cannot publish",
        id="sns-encrypted-aws-managed-key",
    ),
    case(
        "sns-encrypted",
        [Res("aws:sns/topic:Topic", "alerts", {})],
        [Res("aws:sns/topic:Topic", "alerts", {"kmsMasterKeyId": "alias/flowbuilder-alerts"})],
        "not encrypted at rest",
        id="sns-encrypted-none",
    ),
    # IAM
    case(
        "iam-no-wildcard-actions",
        [role_policy(allow(["sqs:*"], ["arn:aws:sqs:us-east-1:1:work"]))],
        [role_policy(allow(["sqs:ReceiveMessage", "sqs:DeleteMessage"], ["arn:aws:sqs:us-east-1:1:work"]))],
        "allows sqs:*",
    ),
    case(
        "iam-no-wildcard-actions",
        [role_policy(allow("*", "*"))],
        [
            role_policy(
                {
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            )
        ],
        "allows *",
        id="iam-no-wildcard-actions-star",
    ),
    case(
        "iam-no-wildcard-resources",
        [role_policy(allow(["ecr:GetAuthorizationToken", "ecr:BatchGetImage"], "*"))],
        [
            role_policy(
                allow(["ecr:GetAuthorizationToken"], "*"),
                allow(["ecr:BatchGetImage"], ["arn:aws:ecr:us-east-1:1:repository/api"]),
            )
        ],
        "grants ecr:BatchGetImage on Resource '*'",
    ),
    case(
        "iam-trust-scoped-to-service",
        [role(trust("*"))],
        [role(trust({"Service": "ecs-tasks.amazonaws.com"}, SOURCE_ACCOUNT))],
        "lets any principal assume the role",
        id="iam-trust-anyone",
    ),
    case(
        "iam-trust-scoped-to-service",
        [role(trust({"Service": ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"]}))],
        [role(trust({"Service": "lambda.amazonaws.com"}))],
        "admits 2 services",
        id="iam-trust-two-services",
    ),
    case(
        "iam-trust-scoped-to-service",
        [role(trust({"AWS": "arn:aws:iam::210987654321:root"}))],
        [role(trust({"AWS": "arn:aws:iam::210987654321:root"}, {"StringEquals": {"sts:ExternalId": "x"}}))],
        "without a condition",
        id="iam-trust-account",
    ),
    case(
        "iam-trust-scoped-to-service",
        [role(trust({"Service": "lambda.amazonaws.com"}, action="sts:*"))],
        [role(trust({"Service": "lambda.amazonaws.com"}))],
        "only sts:AssumeRole* belongs",
        id="iam-trust-action",
    ),
    case(
        "iam-trust-source-condition",
        [role(trust({"Service": "ecs-tasks.amazonaws.com"}))],
        [role(trust({"Service": "ecs-tasks.amazonaws.com"}, SOURCE_ACCOUNT))],
        "confused deputy",
    ),
    case(
        "iam-no-admin-managed-policies",
        [
            Res(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "admin",
                {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
            )
        ],
        [
            Res(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "vpc",
                {"role": "r", "policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"},
            )
        ],
        "attaches AdministratorAccess",
    ),
    case(
        "iam-role-permissions-boundary",
        [role(trust({"Service": "lambda.amazonaws.com"}))],
        [bounded(role(trust({"Service": "lambda.amazonaws.com"})))],
        "permissionsBoundary is None",
    ),
    case(
        "iam-role-permissions-boundary",
        [
            bounded(
                role(trust({"Service": "lambda.amazonaws.com"})),
                f"{BOUNDARY[: -len(BOUNDARY_NAME)]}team/{BOUNDARY_NAME}",
            )
        ],
        [bounded(role(trust({"Service": "lambda.amazonaws.com"})))],
        "policy/team/flowbuilder-permissions-boundary'; every role of the program carries",
        id="iam-role-permissions-boundary-another-policy",
    ),
    case(
        "resource-policy-no-public-access",
        [
            Res(
                "aws:sqs/queuePolicy:QueuePolicy",
                "work",
                {
                    "queueUrl": "u",
                    "policy": policy_doc(
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "sqs:SendMessage",
                            "Resource": "arn:aws:sqs:us-east-1:1:work",
                        }
                    ),
                },
            )
        ],
        [
            Res(
                "aws:sqs/queuePolicy:QueuePolicy",
                "work",
                {
                    "queueUrl": "u",
                    "policy": policy_doc(
                        {
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "sqs:*",
                            "Resource": "arn:aws:sqs:us-east-1:1:work",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ),
                },
            )
        ],
        "allows anyone ('*') with no condition",
    ),
    # Lambda
    case(
        "lambda-reserved-concurrency",
        [function(reservedConcurrentExecutions=-1)],
        [function()],
        "reservedConcurrentExecutions is unset",
    ),
    case(
        "lambda-failure-destination",
        [function()],
        [
            function(),
            Res(
                "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
                "on-failure",
                {
                    "functionName": FUNCTION_NAME,
                    "destinationConfig": {"onFailure": {"destination": "arn:aws:sqs:us-east-1:1:failed"}},
                },
            ),
        ],
        "no dead-letter queue and no on-failure destination",
    ),
    case(
        "lambda-tracing",
        [function(tracingConfig={"mode": "PassThrough"})],
        [function()],
        "tracingConfig.mode is PassThrough",
    ),
    case(
        "lambda-no-plaintext-secrets",
        [function(environment={"variables": {"STRIPE_API_KEY": "sk_live_x"}})],
        [function()],
        "STRIPE_API_KEY carries a credential",
    ),
    # EKS
    case("eks-control-plane-logging", [eks(enabledClusterLogTypes=["api"])], [eks()], "audit, authenticator are off"),
    case("eks-secrets-encryption", [eks(encryptionConfig=None)], [eks()], "encryptionConfig must encrypt 'secrets'"),
    case(
        "eks-no-open-endpoint",
        [eks(vpcConfig={"endpointPublicAccess": True})],
        [eks(vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["198.51.100.0/24"]})],
        "open to 0.0.0.0/0",
    ),
    case(
        "eks-no-open-endpoint",
        [eks(vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]})],
        [eks(vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]})],
        "the Kubernetes API is open to the internet",
        id="eks-no-open-endpoint-listed-open",
    ),
    case("eks-standard-support", [eks(upgradePolicy=None)], [eks()], "unset (EKS defaults to EXTENDED)"),
    case(
        "eks-prod-control-plane-logging",
        [eks(enabledClusterLogTypes=["api", "audit", "authenticator"])],
        [eks()],
        "controllerManager, scheduler are off",
    ),
    case(
        "eks-prod-control-plane-logging",
        [eks(enabledClusterLogTypes=["api", "audit", "authenticator"])],
        [eks(enabledClusterLogTypes=["api", "audit", "authenticator"])],
        "the prod environment sends every control-plane log type",
        good_env="staging",
        id="eks-prod-control-plane-logging-staging-keeps-three",
    ),
    case(
        "eks-private-endpoint",
        [eks(vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["198.51.100.0/24"]})],
        [
            eks(
                vpcConfig={
                    "endpointPublicAccess": True,
                    "publicAccessCidrs": ["198.51.100.0/24"],
                    "endpointPrivateAccess": True,
                }
            )
        ],
        "endpointPrivateAccess is off",
    ),
    case(
        "launch-template-imdsv2-encrypted",
        [launch_template(metadataOptions={"httpTokens": "optional"})],
        [launch_template()],
        "httpTokens must be 'required'",
    ),
    case(
        "launch-template-imdsv2-encrypted",
        [launch_template(blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"volumeType": "gp3"}}])],
        [launch_template()],
        "the volume /dev/xvda is not encrypted",
        id="launch-template-unencrypted-volume",
    ),
    case(
        "eks-standard-support",
        [eks(upgradePolicy={"supportType": "EXTENDED"})],
        [eks()],
        "supportType is EXTENDED",
        id="eks-standard-support-extended",
    ),
    # Kubernetes
    case(
        "k8s-resources",
        [deployment(k8s_container(resources={"requests": {"cpu": "100m"}}))],
        [deployment()],
        "lacks requests.memory, limits.memory",
    ),
    case("k8s-probes", [deployment(k8s_container(livenessProbe=None))], [deployment()], "has no livenessProbe"),
    case(
        "k8s-non-root",
        [deployment(k8s_container(securityContext={"allowPrivilegeEscalation": False}))],
        [
            deployment(
                k8s_container(securityContext={"allowPrivilegeEscalation": False}),
                pod_security={"runAsNonRoot": True, "runAsUser": 1000},
            )
        ],
        "may run as root",
    ),
    case(
        "k8s-no-privilege-escalation",
        [deployment(k8s_container(securityContext={"runAsNonRoot": True}))],
        [deployment()],
        "needs allowPrivilegeEscalation: false",
    ),
    case(
        "k8s-deployment-has-hpa",
        [deployment(), hpa("api", namespace="default")],
        [deployment(), hpa("api")],
        "no HorizontalPodAutoscaler targets this Deployment",
    ),
    case(
        "k8s-deployment-has-pdb",
        [deployment(), pdb({"app": "worker"})],
        [deployment(), pdb({"app": "api"})],
        "no PodDisruptionBudget selects",
    ),
    case("k8s-pinned-images", [deployment(k8s_container(image="repo/api:latest"))], [deployment()], "is not pinned"),
    # Cost
    case(
        "cost-no-nat-in-zero-scale",
        [Res("aws:ec2/natGateway:NatGateway", "nat", {"subnetId": "subnet-a"})],
        [Res("aws:ec2/natGateway:NatGateway", "nat", {"subnetId": "subnet-a"})],
        "NAT gateway in the zero-scale stack",
        topology="zero-scale",
        good_topology="standard",
        id="cost-no-nat-gateway-in-zero-scale",
    ),
    case(
        "cost-no-nat-in-zero-scale",
        [Res("aws:ec2/instance:Instance", "nat", {"instanceType": "t4g.nano", "sourceDestCheck": False})],
        [Res("aws:ec2/instance:Instance", "bastion", {"instanceType": "t4g.nano"})],
        "NAT instance",
        topology="zero-scale",
        id="cost-no-nat-instance-in-zero-scale",
    ),
    case(
        "cost-no-interface-endpoints-in-zero-scale",
        [endpoint("Interface")],
        [endpoint("Gateway")],
        "Interface endpoint in the zero-scale stack",
        topology="zero-scale",
    ),
    case(
        "cost-interface-endpoints-outside-prod",
        [endpoint()],
        [endpoint()],
        "$14.60/month over 2 AZ(s)",
        env="dev",
        good_env="prod",
    ),
    case(
        "cost-log-retention",
        [Res("aws:cloudwatch/logGroup:LogGroup", "logs", {"name": "/x"})],
        [Res("aws:cloudwatch/logGroup:LogGroup", "logs", {"name": "/x", "retentionInDays": 30})],
        "kept (and billed) forever",
    ),
    case("cost-rds-extended-support-off", [rds(engineLifecycleSupport=None)], [rds()], "unset (extended support on)"),
    # The stack key
    case(
        "stack-key-encryption",
        [stack_key(), Res(LOG_GROUP, "logs", {"name": "/x", "retentionInDays": 7})],
        [stack_key(), Res(LOG_GROUP, "logs", {"name": "/x", "retentionInDays": 7, "kmsKeyId": STACK_KEY_ARN})],
        "log events: encrypted with an AWS-managed or AWS-owned key; set kmsKeyId to the stack key",
        id="stack-key-log-group",
    ),
    case(
        "stack-key-encryption",
        [stack_key(), repository("AES256")],
        [stack_key(), repository("KMS", STACK_KEY_ARN)],
        "images: encrypted with an AWS-managed or AWS-owned key",
        id="stack-key-repository",
    ),
    case(
        "stack-key-encryption",
        [stack_key(), Res(SECRET, "url", {"kmsKeyId": "alias/aws/secretsmanager"})],
        [stack_key(), Res(SECRET, "url", {"kmsKeyId": STACK_KEY_ARN})],
        "kmsKeyId is alias/aws/secretsmanager, not a customer-managed key this stack declares",
        id="stack-key-secret-aws-managed",
    ),
    case(
        "stack-key-encryption",
        [stack_key(), Res(TOPIC, "alerts", {"kmsMasterKeyId": OTHER_KEY_ARN})],
        [stack_key(), Res(TOPIC, "alerts", {"kmsMasterKeyId": STACK_KEY_ARN})],
        f"kmsMasterKeyId is {OTHER_KEY_ARN}, not a customer-managed key this stack declares",
        id="stack-key-topic-foreign-key",
    ),
    case(
        "stack-key-encryption",
        [stack_key(), rds()],
        [stack_key(), rds(masterUserSecretKmsKeyId=STACK_KEY_ARN)],
        "the managed master password: encrypted with an AWS-managed or AWS-owned key",
        id="stack-key-rds-master-secret",
    ),
    case("s3-public-access-blocked", bucket_without("block"), bucket_resources(), "no public access block"),
    case("s3-owner-enforced", bucket_without("ownership"), bucket_resources(), "BucketOwnerEnforced"),
    case("s3-encrypted", bucket_without("encryption"), bucket_resources(), "no default encryption"),
    case("s3-tls-only", bucket_without("policy"), bucket_resources(), "aws:SecureTransport is false"),
    case(
        "cloudfront-https-only",
        [distribution("allow-all", access_control=None)],
        [distribution("redirect-to-https")],
        "plain HTTP (viewerProtocolPolicy allow-all)",
    ),
    case(
        "ses-configuration-set",
        [identity(None), CONFIGURATION_SET, DESTINATION],
        [identity("flowbuilder-test-email"), CONFIGURATION_SET, DESTINATION],
        "no default configuration set",
    ),
    # Cache and backups
    case(
        "cache-encryption",
        [replication_group(atRestEncryptionEnabled=False)],
        [replication_group()],
        "atRestEncryptionEnabled must be true",
        id="cache-encryption-at-rest",
    ),
    case(
        "cache-encryption",
        [replication_group(transitEncryptionMode="preferred")],
        [replication_group()],
        "still admits plain-text clients",
        id="cache-encryption-in-transit",
    ),
    case(
        "cache-authentication",
        [replication_group(userGroupIds=[])],
        [replication_group()],
        "neither userGroupIds nor authToken",
        id="cache-authentication-node",
    ),
    case(
        "cache-authentication",
        [serverless_cache(userGroupId=None)],
        [serverless_cache()],
        "without a user group",
        id="cache-authentication-serverless",
    ),
    case(
        "cache-user-authenticates",
        [Res("aws:elasticache/user:User", "u", {"authenticationMode": {"type": "no-password-required"}})],
        [Res("aws:elasticache/user:User", "u", {"authenticationMode": {"type": "iam"}})],
        "needs no password",
    ),
    case(
        "prod-database-backup-plan",
        [rds(tags={"backup-plan": "flowbuilder-prod"}), *backup_plan_selecting("flowbuilder-staging")],
        [rds(tags={"backup-plan": "flowbuilder-prod"}), *backup_plan_selecting("flowbuilder-prod")],
        "in no AWS Backup plan",
    ),
    case(
        "prod-database-backup-plan",
        [rds()],
        [rds()],
        "in no AWS Backup plan",
        good_env="staging",
        id="prod-database-backup-plan-prod-only",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_fires_on_the_broken_resource_and_not_on_the_fixed_one(case: Case):
    bad = findings_of(case.rule, case.bad)
    assert [f.rule for f in bad] and {f.rule for f in bad} == {case.rule}
    assert any(case.expect in f.message for f in bad), [f.message for f in bad]
    assert {f.enforcement for f in bad} == {RULES[case.rule].enforcement_level.value}
    assert findings_of(case.rule, case.good) == []


def test_every_rule_is_proven_by_a_broken_resource():
    assert {c.rule for c in CASES} == set(RULES)


# -- the bootstrap program's own roles and policies (bootstrap/) ----------------------------
GITHUB_PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"


def in_bootstrap(scenario: Scenario) -> tuple[StackRun, dict[str, str]]:
    """A synthetic stack whose resources belong to the bootstrap project instead of the program."""
    run, config = synthetic_run(scenario)
    moved = [replace(r, urn=r.urn.replace("::flowbuilder::", "::flowbuilder-bootstrap::")) for r in run.resources]
    return replace(run, resources=moved), config


def test_the_bootstraps_own_roles_carry_no_boundary():
    deploy = role(
        trust(
            {"Federated": GITHUB_PROVIDER},
            {"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:o/r:environment:dev"}},
            action="sts:AssumeRoleWithWebIdentity",
        )
    )
    rule = [RULES["iam-role-permissions-boundary"]]
    assert [f.name for f in evaluate(*synthetic_run(Scenario([deploy])), rule)] == ["task"]
    assert evaluate(*in_bootstrap(Scenario([deploy])), rule) == []


def test_only_the_bootstraps_boundary_may_allow_whole_services():
    whole_services = policy_doc(allow(["sqs:*", "logs:*"], "*"))
    boundary = Res("aws:iam/policy:Policy", "boundary", {"name": BOUNDARY_NAME, "policy": whole_services})
    deploy = Res("aws:iam/policy:Policy", "deploy", {"name": "flowbuilder-deploy-dev-data", "policy": whole_services})
    rule = [RULES["iam-no-wildcard-actions"]]
    assert [f.name for f in evaluate(*in_bootstrap(Scenario([boundary, deploy])), rule)] == ["deploy"]
    # In the program, a policy of that name is no boundary.
    assert sorted(f.name for f in evaluate(*synthetic_run(Scenario([boundary, deploy])), rule)) == [
        "boundary",
        "deploy",
    ]


def test_the_bootstraps_ci_policies_may_describe_whole_services():
    listing = policy_doc(allow(["ec2:Describe*", "sns:ListTopics"], "*"))
    deploy = Res("aws:iam/policy:Policy", "deploy", {"name": "flowbuilder-deploy-dev-network", "policy": listing})
    rule = [RULES["iam-no-wildcard-resources"]]
    assert evaluate(*in_bootstrap(Scenario([deploy])), rule) == []
    assert [f.name for f in evaluate(*synthetic_run(Scenario([deploy])), rule)] == ["deploy"]


def test_rules_have_unique_names_and_an_explicit_level():
    assert len(RULES) == len(POLICIES)
    levels = {p.name: p.enforcement_level for p in POLICIES}
    assert set(levels.values()) == {EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY}
    advisory = {name for name, level in levels.items() if level is EnforcementLevel.ADVISORY}
    assert advisory == {
        "rds-force-tls",
        "rds-performance-insights-prod",
        "ecs-exec-off-in-prod",
        "ecs-container-insights-prod",
        "alb-tls-policy-current",
        "waf-on-public-load-balancers",
        "sqs-dlq-outlives-source",
        "iam-trust-source-condition",
        "k8s-pinned-images",
        "cost-interface-endpoints-outside-prod",
        "cost-log-retention",
        "cost-rds-extended-support-off",
    }


# -- the committed stacks ---------------------------------------------------------------
def assert_no_mandatory_violation(findings: list[Finding]) -> None:
    assert [f"{f.rule}: {f.name}: {f.message}" for f in findings if f.mandatory] == []


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_has_no_mandatory_violation(stack: str):
    assert_no_mandatory_violation(evaluate(committed_run(stack), read_stack_file(stack)))


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_after_its_first_release_has_no_mandatory_violation(stack: str):
    # With every digest recorded the scheduler Lambda, its schedule and (zero-scale) the running pipe exist too.
    overrides = released_overrides(stack)
    run = run_stack(stack, overrides=overrides)
    assert run.of_type("aws:lambda/function:Function")
    assert_no_mandatory_violation(evaluate(run, stack_config(stack, overrides)))


TOKEN = re.compile(r"^(aws|eks|kubernetes|pulumi):[A-Za-z0-9./-]+:[A-Za-z0-9]+$")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _package_dir(package: str) -> Path:
    # Located, not imported: the SDKs' import-time warnings stay out of the test output.
    return Path(importlib.util.find_spec(package).submodule_search_locations[0])


def _sdk_module(token: str) -> Path:
    """Where the installed SDK declares a resource type: aws:rds/instance:Instance -> pulumi_aws/rds/instance.py."""
    package, module, name = token.split(":")
    if package == "kubernetes":
        group, version = module.split("/")
        return _package_dir("pulumi_kubernetes") / group / version / f"{name}.py"
    folder, file = module.split("/")
    return _package_dir("pulumi_aws") / ("lambda_" if folder == "lambda" else folder) / f"{_snake(file)}.py"


def _tokens_in(value: Any) -> Iterator[str]:
    """Type tokens in a module's constants (strings, and tuples, sets, dict keys of them)."""
    if isinstance(value, str):
        if TOKEN.match(value):
            yield value
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _tokens_in(item)
    elif isinstance(value, dict):
        yield from _tokens_in(list(value))


def test_every_type_token_the_rules_key_on_exists_in_the_installed_sdks():
    tokens = set().union(*(getattr(p, "resource_types", set()) for p in POLICIES))
    for info in pkgutil.iter_modules(policy.rules.__path__):
        tokens |= set(_tokens_in(list(vars(importlib.import_module(f"policy.rules.{info.name}")).values())))
    tokens.discard("pulumi:providers:aws")
    assert len(tokens) > 35
    for token in sorted(tokens):
        source = _sdk_module(token)
        assert source.exists() and f'"{token}"' in source.read_text(), token


# -- how a rule learns the stack's environment and topology ----------------------------------
def test_environment_comes_from_the_provider_default_tags_and_topology_from_stack_config():
    nat = Res("aws:ec2/natGateway:NatGateway", "nat", {"subnetId": "subnet-a"})
    run, config = synthetic_run(Scenario([nat], environment="prod", topology="zero-scale"))
    assert [f.rule for f in evaluate(run, config, [RULES["cost-no-nat-in-zero-scale"]])] == [
        "cost-no-nat-in-zero-scale"
    ]
    # Without the stack's config the topology is unknown and read as standard: no cost finding.
    assert evaluate(run, {}, [RULES["cost-no-nat-in-zero-scale"]]) == []
    # The provider's tags win over the stack config for the environment.
    db = rds(multiAz=False)
    run, config = synthetic_run(Scenario([db], environment="dev"))
    assert evaluate(run, {**config, "flowbuilder:environment": "prod"}, [RULES["rds-prod-resilience"]]) == []


def test_a_resource_without_environment_tags_gets_the_strictest_reading():
    run, _ = synthetic_run(Scenario([rds(multiAz=False)]))
    untagged = [replace(r, provider="") for r in run.resources]
    findings = evaluate(replace(run, resources=untagged), {}, [RULES["rds-prod-resilience"]])
    assert [f.message for f in findings] == [
        "multiAz must be true in prod (a single-AZ primary is down for the whole of an AZ outage)"
    ]


# -- the same rules inside pulumi_policy's analyzer (what `pulumi preview --policy-pack` runs) --
def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def _analyze(resource_type: str, props: dict[str, Any], environment: str = "prod") -> list[proto.AnalyzeDiagnostic]:
    servicer = _PolicyAnalyzerServicer("flowbuilder", "1.0.0", POLICIES, EnforcementLevel.MANDATORY)
    tags = json.dumps({"tags": {"stack": "prod", "environment": environment}})
    request = proto.AnalyzeRequest(
        type=resource_type,
        properties=_struct(props),
        urn=f"urn:pulumi:prod::flowbuilder::{resource_type}::x",
        name="x",
        options=proto.AnalyzerResourceOptions(),
        provider=proto.AnalyzerProviderResource(
            type="pulumi:providers:aws", properties=_struct({"defaultTags": tags}), urn=PROVIDER_URN, name="aws"
        ),
    )
    return list(servicer.Analyze(request, None).diagnostics)


def test_the_engine_analyzer_reports_a_mandatory_violation():
    diagnostics = _analyze("aws:rds/instance:Instance", rds(multiAz=False).props)
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [("rds-prod-resilience", proto.MANDATORY)]
    assert "multiAz must be true in prod" in diagnostics[0].message


def test_a_value_unknown_during_preview_becomes_an_advisory_note_not_a_pass_or_a_crash():
    diagnostics = _analyze("aws:iam/rolePolicy:RolePolicy", {"role": "r", "policy": UNKNOWN_STRING_VALUE})
    assert {d.policyName for d in diagnostics} == {"iam-no-wildcard-actions", "iam-no-wildcard-resources"}
    assert all(
        d.enforcementLevel == proto.ADVISORY and "can't be known during preview" in d.message for d in diagnostics
    )


def test_the_pack_entry_point_assembles_every_rule(monkeypatch):
    assembled = {}
    monkeypatch.setattr("pulumi_policy.PolicyPack", lambda **kwargs: assembled.update(kwargs))
    monkeypatch.syspath_prepend(str(ROOT / "policy"))
    # The engine runs policy/__main__.py with policy/ on the path, so the rules import as `rules`.
    try:
        runpy.run_path(str(ROOT / "policy" / "__main__.py"), run_name="__main__")
    finally:
        for module in [m for m in sys.modules if m == "rules" or m.startswith("rules.")]:
            del sys.modules[module]
    assert assembled["name"] == "flowbuilder"
    assert [p.name for p in assembled["policies"]] == [p.name for p in POLICIES]
    assert assembled["enforcement_level"] is EnforcementLevel.MANDATORY
    body = ast.parse((ROOT / "policy" / "__main__.py").read_text()).body
    assert not [n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef))], "the entry point only assembles"


def test_the_pack_boots_and_describes_its_rules_over_the_analyzer_protocol():
    # As the Pulumi CLI runs it: __main__.py with policy/ as the script's directory,
    # printing the port of the gRPC analyzer it serves.
    process = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"],
        cwd=ROOT / "policy",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        if not line.strip().isdigit():
            pytest.fail(f"the pack did not start: {line}{process.stderr.read()}")
        port = int(line)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            info = analyzer_pb2_grpc.AnalyzerStub(channel).GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    finally:
        process.kill()
        process.communicate()
    assert info.name == "flowbuilder"
    described = {p.name: p.enforcementLevel for p in info.policies}
    assert described == {
        p.name: proto.MANDATORY if p.enforcement_level is EnforcementLevel.MANDATORY else proto.ADVISORY
        for p in POLICIES
    }


# -- the offline preview ----------------------------------------------------------------
def test_offline_preview_lists_the_policy_results(capsys):
    preview_main.main(["ultra"])
    out = capsys.readouterr().out
    section = policy_section(evaluate(committed_run("ultra"), read_stack_file("ultra")))
    status = "passed" if section["violations"] == 0 else "FAILED"
    assert f"Policy pack flowbuilder: {status} — {len(POLICIES)} rules" in out
    assert f"{section['violations']} mandatory violation(s), {section['advisories']} advisory finding(s)" in out


def test_offline_preview_fails_on_a_mandatory_violation(monkeypatch, capsys):
    run = committed_run("dev")
    broken = RecordedResource(
        urn="urn:pulumi:dev::flowbuilder::aws:sqs/queue:Queue::flowbuilder-dev-plain",
        type="aws:sqs/queue:Queue",
        name="flowbuilder-dev-plain",
        parent=None,
        custom=True,
        inputs={"name": "flowbuilder-dev-plain"},
        state={"name": "flowbuilder-dev-plain"},
        provider=run.one("pulumi:providers:aws").urn + "::id",
    )
    with_broken = replace(run, resources=[*run.resources, broken])
    monkeypatch.setattr(preview_main, "run_stack", lambda stack, overrides=None, **_: with_broken)
    assert preview_main.main(["dev", "--format", "json"]) == 1
    section = json.loads(capsys.readouterr().out)["sections"]["policy"]
    mandatory = [(f["rule"], f["name"]) for f in section["findings"] if f["enforcement"] == "mandatory"]
    assert ("sqs-encrypted", "flowbuilder-dev-plain") in mandatory
    assert ("sqs-work-queue-has-dlq", "flowbuilder-dev-plain") in mandatory


def test_policy_doc_explains_every_rule():
    text = (Path(ROOT) / "docs" / "policy.md").read_text()
    missing = [name for name in RULES if f"`{name}`" not in text]
    assert missing == []


# -- lambda-failure-destination: a function only an HTTP API invokes ---------------------------
API_FUNCTION_NAME = "flowbuilder-test-api"
API_FUNCTION_ARN = f"arn:aws:lambda:us-east-1:1:function:{API_FUNCTION_NAME}"
API_INVOKE_ARN = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{API_FUNCTION_ARN}/invocations"


def api_function() -> Res:
    return replace(
        function(name=API_FUNCTION_NAME, reservedConcurrentExecutions=10),
        name="api",
        outputs={"arn": API_FUNCTION_ARN, "invokeArn": API_INVOKE_ARN},
    )


def http_api_integration(uri: str = API_INVOKE_ARN) -> Res:
    return Res(
        "aws:apigatewayv2/integration:Integration",
        "api",
        {"apiId": "a1b2c3d4e5", "integrationType": "AWS_PROXY", "integrationUri": uri, "payloadFormatVersion": "2.0"},
    )


def invoke_permission(principal: str, name: str = "api-invoke") -> Res:
    return Res(
        "aws:lambda/permission:Permission",
        name,
        {"function": API_FUNCTION_NAME, "principal": principal, "action": "lambda:InvokeFunction"},
    )


def test_a_function_only_an_http_api_invokes_needs_no_failure_destination():
    served = [api_function(), http_api_integration(), invoke_permission("apigateway.amazonaws.com")]
    assert findings_of("lambda-failure-destination", Scenario(served, topology="zero-scale")) == []


@pytest.mark.parametrize(
    "invoker",
    [
        invoke_permission("s3.amazonaws.com", name="bucket-invoke"),
        Res("aws:apigateway/integration:Integration", "rest", {"type": "AWS", "uri": API_INVOKE_ARN}),
        role_policy(allow(["lambda:InvokeFunction"], [API_FUNCTION_ARN])),
    ],
    ids=["s3-permission", "rest-api-integration", "identity-policy"],
)
def test_any_other_invoker_of_an_http_api_function_keeps_the_rule(invoker: Res):
    served = [api_function(), http_api_integration(), invoke_permission("apigateway.amazonaws.com"), invoker]
    (finding,) = findings_of("lambda-failure-destination", Scenario(served, topology="zero-scale"))
    assert finding.name == "api"


def test_the_scheduler_is_not_exempt_even_beside_an_http_api():
    # The schedule invokes the scheduler through its role; the HTTP API integration is another function's.
    stack = [
        function(),
        role_policy(allow(["lambda:InvokeFunction"], [f"arn:aws:lambda:us-east-1:1:function:{FUNCTION_NAME}"])),
        api_function(),
        http_api_integration(),
        invoke_permission("apigateway.amazonaws.com"),
    ]
    findings = findings_of("lambda-failure-destination", Scenario(stack, topology="zero-scale"))
    assert [(f.name, f.mandatory) for f in findings] == [("scheduler", True)]


# -- lambda-failure-destination: a function only pulumi up invokes (the migration runner) -------
def migration_invocation() -> Res:
    return Res("aws:lambda/invocation:Invocation", "migrate", {"functionName": API_FUNCTION_NAME, "input": "{}"})


def test_a_function_only_a_pulumi_invocation_invokes_needs_no_failure_destination():
    assert findings_of("lambda-failure-destination", Scenario([api_function(), migration_invocation()])) == []


def test_an_invocation_does_not_exempt_a_function_something_else_may_invoke_asynchronously():
    stack = [api_function(), migration_invocation(), invoke_permission("events.amazonaws.com", name="rule-invoke")]
    (finding,) = findings_of("lambda-failure-destination", Scenario(stack))
    assert finding.name == "api"


def test_without_an_invoker_the_rule_holds():
    (finding,) = findings_of("lambda-failure-destination", Scenario([api_function()]))
    assert finding.name == "api"
