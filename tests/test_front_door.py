"""FrontDoor: the ALB, its target group and listeners, the access-log bucket in prod."""

from __future__ import annotations

import functools
import json

import pulumi
import pytest

from components.context import AwsAccount
from components.front_door import FrontDoor, FrontDoorArgs
from components.front_door.access_logs import ELB_LOG_DELIVERY_ACCOUNTS, alb_log_bucket_policy
from simulation.harness import StackRun, run_program
from simulation.mocks import ACCOUNT_ID
from stackconfig.model import ApiConfig
from tests.component_support import run_component, section
from tests.conftest import committed_run

ALB = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0b7f4a8e-1c2d-4e5f-9a8b-7c6d5e4f3a2b"


@functools.cache
def front_door_alone(api: str = "{}", protect: bool = False) -> tuple[StackRun, dict]:
    """A FrontDoor with these api settings; also what it exposes (url, note)."""
    exposed: dict = {}

    def build(context) -> None:
        door = FrontDoor(
            context.prefix,
            FrontDoorArgs(
                context,
                section(ApiConfig, "api", **json.loads(api)),
                vpc_id="vpc-0123456789abcdef0",
                public_subnet_ids=["subnet-a", "subnet-b"],
                security_group_id="sg-alb",
                deletion_protection=protect,
                access_logs=protect,
            ),
        )
        pulumi.export("url", door.url)
        exposed["note"] = door.endpoint_note

    run = run_component(build)
    return run, {**exposed, "url": run.outputs["url"]}


def test_only_standard_stacks_have_a_front_door(any_stack):
    expected = 0 if any_stack.stack == "ultra" else 1
    assert [r.type for r in any_stack.resources].count("flowbuilder:index:FrontDoor") == expected
    assert len(any_stack.of_type(ALB)) == expected


def test_alb_is_internet_facing_in_the_public_subnets_and_drops_invalid_headers(dev):
    alb = dev.one(ALB)
    assert alb.inputs["name"] == "flowbuilder-dev-api"
    assert alb.inputs["internal"] is False
    assert alb.inputs["loadBalancerType"] == "application"
    assert alb.inputs["subnets"] == dev.outputs["publicSubnetIds"]
    assert alb.inputs["securityGroups"] == [dev.outputs["securityGroupIds"]["alb"]]
    assert alb.inputs["dropInvalidHeaderFields"] is True
    assert dev.outputs["albDnsName"] == alb.state["dnsName"]


def test_dev_alb_has_no_deletion_protection_or_access_logs(dev):
    alb = dev.one(ALB)
    assert alb.inputs["enableDeletionProtection"] is False
    assert "accessLogs" not in alb.inputs
    assert [b for b in dev.of_type("aws:s3/bucket:Bucket") if b.name.endswith("-alb-logs")] == []


def test_prod_alb_is_protected_and_logs_to_an_sse_s3_bucket(prod):
    alb = prod.one(ALB)
    bucket_name = f"flowbuilder-prod-alb-logs-{ACCOUNT_ID}"
    assert alb.inputs["enableDeletionProtection"] is True
    assert alb.inputs["accessLogs"] == {"enabled": True, "bucket": bucket_name, "prefix": "alb"}
    assert prod.one("aws:s3/bucket:Bucket", "-alb-logs").inputs["bucket"] == bucket_name
    (rule,) = prod.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "-alb-logs"
    ).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    block = prod.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "-alb-logs").inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = prod.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "-alb-logs").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (lifecycle,) = prod.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "-alb-logs").inputs[
        "rules"
    ]
    assert lifecycle["status"] == "Enabled"
    assert lifecycle["expiration"] == {"days": 30}
    assert lifecycle["filter"] == {"prefix": "alb/"}
    # ELB validates the bucket when logging is switched on: policy, ownership and encryption come first.
    depends = {prod.by_urn(urn).type for urn in alb.depends_on}
    assert {
        BUCKET_POLICY,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    } <= depends


def test_access_log_bucket_policy_lets_only_elb_write_this_accounts_prefix(prod):
    bucket = f"flowbuilder-prod-alb-logs-{ACCOUNT_ID}"
    found = {s["Sid"]: s for s in json.loads(prod.one(BUCKET_POLICY, "-alb-logs").inputs["policy"])["Statement"]}
    objects = f"arn:aws:s3:::{bucket}/alb/AWSLogs/{ACCOUNT_ID}/*"
    assert found["LogDeliveryService"] == {
        "Sid": "LogDeliveryService",
        "Effect": "Allow",
        "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": objects,
    }
    # us-east-1 predates the service principal: its regional ELB account is granted too.
    assert found["RegionalElbAccount"]["Principal"] == {"AWS": "arn:aws:iam::127311923021:root"}
    assert found["RegionalElbAccount"]["Action"] == "s3:PutObject"
    assert found["RegionalElbAccount"]["Resource"] == objects
    deny = found["DenyInsecureTransport"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def bucket_policy_sids(account: AwsAccount) -> list[str]:
    holder: dict = {}
    run_program(
        lambda: alb_log_bucket_policy("arn:aws:s3:::logs", account).apply(holder.setdefault("p", []).append),
        stack="dev",
        config={},
    )
    return [s["Sid"] for s in json.loads(holder["p"][0])["Statement"]]


def test_newer_regions_grant_only_the_log_delivery_service_principal():
    assert "eu-south-2" not in ELB_LOG_DELIVERY_ACCOUNTS
    assert bucket_policy_sids(AwsAccount("aws", "eu-south-2", ACCOUNT_ID)) == [
        "LogDeliveryService",
        "DenyInsecureTransport",
    ]
    assert "RegionalElbAccount" in bucket_policy_sids(AwsAccount("aws", "eu-west-1", ACCOUNT_ID))


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_target_group_checks_health_on_the_container_port(stack):
    group = committed_run(stack).one(TARGET_GROUP)
    assert group.inputs["name"] == f"flowbuilder-{stack}-api"
    assert (group.inputs["targetType"], group.inputs["port"], group.inputs["protocol"]) == ("ip", 8080, "HTTP")
    assert group.inputs["deregistrationDelay"] == 60
    check = group.inputs["healthCheck"]
    assert check["path"] == "/health"
    assert check["matcher"] == "200"
    assert (check["healthyThreshold"], check["unhealthyThreshold"]) == (5, 2)
    assert (check["interval"], check["timeout"]) == (30, 5)


def test_container_port_and_health_path_follow_the_api_settings():
    run, _ = front_door_alone(json.dumps({"containerPort": 3000, "healthCheckPath": "/ready"}))
    group = run.one(TARGET_GROUP).inputs
    assert (group["port"], group["healthCheck"]["path"]) == (3000, "/ready")


def test_without_a_certificate_one_plain_http_listener_forwards(dev):
    (listener,) = dev.of_type(LISTENER)
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    (action,) = listener.inputs["defaultActions"]
    assert action["type"] == "forward"
    assert action["targetGroupArn"] == dev.one(TARGET_GROUP).state["arn"]
    assert dev.outputs["apiUrl"].startswith("http://flowbuilder-dev-api-")
    assert dev.outputs["apiEndpointNote"].startswith("plain HTTP: no certificateArn configured")


def test_with_a_certificate_https_on_tls12_plus_and_http_redirects():
    run, exposed = front_door_alone(json.dumps({"certificateArn": CERTIFICATE}))
    listeners = {r.inputs["port"]: r.inputs for r in run.of_type(LISTENER)}
    assert set(listeners) == {80, 443}
    https = listeners[443]
    assert https["protocol"] == "HTTPS"
    assert https["certificateArn"] == CERTIFICATE
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    (forward,) = https["defaultActions"]
    assert (forward["type"], forward["targetGroupArn"]) == ("forward", run.one(TARGET_GROUP).state["arn"])
    (redirect,) = listeners[80]["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    assert exposed["url"].startswith("https://")
    assert "plain HTTP" not in exposed["note"]
