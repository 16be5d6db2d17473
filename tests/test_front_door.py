"""FrontDoor: the ALB, its domain, certificate, listeners and WAF, the access-log bucket in prod;
HttpApiDomain: zero-scale's custom domain."""

from __future__ import annotations

import functools
import json
import re

import pulumi
import pytest

from components.context import AwsAccount
from components.front_door import FrontDoor, FrontDoorArgs, HttpApiDomain, HttpApiDomainArgs
from components.front_door.access_logs import ELB_LOG_DELIVERY_ACCOUNTS, alb_log_bucket_policy
from simulation.harness import StackRun, run_program
from simulation.mocks import ACCOUNT_ID
from stackconfig import Environment, Topology
from stackconfig.model import ApiConfig, DomainConfig, WafConfig
from tests.component_support import run_component, section
from tests.conftest import committed_run

ALB = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0b7f4a8e-1c2d-4e5f-9a8b-7c6d5e4f3a2b"
RECORD = "aws:route53/record:Record"
ZONE = "aws:route53/zone:Zone"
ACM = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"


@functools.cache
def front_door_alone(
    api: str = "{}", protect: bool = False, domain: str = "{}", waf: str = "{}"
) -> tuple[StackRun, dict]:
    """A FrontDoor with these api, domain and waf settings; also what it exposes."""
    exposed: dict = {}

    def build(context) -> None:
        door = FrontDoor(
            context.prefix,
            FrontDoorArgs(
                context,
                section(ApiConfig, "api", **json.loads(api)),
                section(DomainConfig, "domain", **json.loads(domain)),
                section(WafConfig, "waf", **json.loads(waf)),
                vpc_id="vpc-0123456789abcdef0",
                public_subnet_ids=["subnet-a", "subnet-b"],
                security_group_id="sg-alb",
                deletion_protection=protect,
                access_logs=protect,
                strictest_desync_mitigation=protect,
            ),
        )
        pulumi.export("url", door.url)
        if door.hosted_zone_id is not None:
            pulumi.export("zone", door.hosted_zone_id)
        exposed["note"] = door.endpoint_note
        exposed["domain"] = door.domain_name
        exposed["alarms"] = [alarm.key for alarm in door.watch.alarms]

    run = run_component(build)
    return run, {**exposed, "url": run.outputs["url"], "zone": run.outputs.get("zone")}


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
    rules = {
        r["id"]: r
        for r in prod.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "-alb-logs").inputs[
            "rules"
        ]
    }
    logs, versions = rules["expire-access-logs"], rules["versions-and-uploads"]
    assert (logs["status"], logs["expiration"], logs["filter"]) == ("Enabled", {"days": 30}, {"prefix": "alb/"})
    # Bucket-wide: overwritten or deleted logs stay 30 days, half-finished uploads one day.
    assert versions["status"] == "Enabled"
    assert versions["filter"] == {}
    assert versions["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert versions["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}
    assert versions["expiration"] == {"expiredObjectDeleteMarker": True}
    versioning = prod.one("aws:s3/bucketVersioning:BucketVersioning", "-alb-logs")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    lifecycle = prod.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "-alb-logs")
    assert versioning.urn in lifecycle.depends_on
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
    assert re.fullmatch(rf"flowbuilder-{stack}-api-[0-9a-f]{{4}}", group.inputs["name"])
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


def test_without_a_domain_dev_has_one_plain_http_listener_and_says_so(dev):
    (listener,) = dev.of_type(LISTENER)
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    (action,) = listener.inputs["defaultActions"]
    assert action["type"] == "forward"
    assert action["targetGroupArn"] == dev.one(TARGET_GROUP).state["arn"]
    assert dev.outputs["apiUrl"].startswith("http://flowbuilder-dev-api-")
    assert dev.outputs["apiEndpointNote"].startswith("plain HTTP: no domain configured (dev only)")
    assert dev.of_type(ACM) == dev.of_type(ZONE) == dev.of_type(RECORD) == dev.of_type(WEB_ACL) == []
    assert "domainName" not in dev.outputs and "hostedZoneId" not in dev.outputs


def test_staging_issues_a_dns_validated_certificate_in_the_zone_it_creates(staging):
    zone = staging.one(ZONE)
    assert zone.inputs["name"] == "staging.flowbuilder.example.com"
    certificate = staging.one(ACM)
    assert certificate.inputs["domainName"] == "api.staging.flowbuilder.example.com"
    assert certificate.inputs["validationMethod"] == "DNS"
    (option,) = certificate.state["domainValidationOptions"]
    record = staging.one(RECORD, "certificate-validation")
    assert record.inputs["zoneId"] == zone.state["zoneId"]
    assert (record.inputs["name"], record.inputs["type"]) == (option["resourceRecordName"], "CNAME")
    assert record.inputs["records"] == [option["resourceRecordValue"]]
    assert record.inputs["ttl"] == 300
    validation = staging.one(VALIDATION)
    assert validation.inputs["certificateArn"] == certificate.state["arn"]
    assert validation.inputs["validationRecordFqdns"] == [record.state["fqdn"]]
    assert staging.outputs["certificateArn"] == certificate.state["arn"]
    assert staging.outputs["hostedZoneId"] == zone.state["zoneId"]
    assert staging.outputs["hostedZoneNameServers"] == zone.state["nameServers"]
    assert staging.outputs["domainName"] == "api.staging.flowbuilder.example.com"


@pytest.mark.parametrize(
    "stack, host", [("staging", "api.staging.flowbuilder.example.com"), ("prod", "api.flowbuilder.example.com")]
)
def test_https_only_with_hsts_and_a_redirect_and_the_name_aliased_to_the_alb(stack, host):
    run = committed_run(stack)
    listeners = {r.inputs["port"]: r.inputs for r in run.of_type(LISTENER)}
    assert set(listeners) == {80, 443}
    https = listeners[443]
    assert https["protocol"] == "HTTPS"
    assert https["certificateArn"] == run.one(VALIDATION).inputs["certificateArn"]
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["routingHttpResponseStrictTransportSecurityHeaderValue"] == "max-age=31536000; includeSubDomains"
    (forward,) = https["defaultActions"]
    assert (forward["type"], forward["targetGroupArn"]) == ("forward", run.one(TARGET_GROUP).state["arn"])
    (redirect,) = listeners[80]["defaultActions"]
    assert redirect == {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
    alb = run.one(ALB)
    (alias,) = [r for r in run.of_type(RECORD) if r.inputs.get("aliases")]
    assert (alias.inputs["name"], alias.inputs["type"]) == (host, "A")
    assert alias.inputs["zoneId"] == run.one(ZONE).state["zoneId"]
    assert alias.inputs["aliases"] == [
        {"name": alb.state["dnsName"], "zoneId": alb.state["zoneId"], "evaluateTargetHealth": True}
    ]
    assert run.outputs["apiUrl"] == f"https://{host}"
    assert run.outputs["apiEndpointNote"].startswith(f"HTTPS only at https://{host}")


def test_a_created_zone_is_protected_in_prod_only(staging, prod):
    # A zone created anew has other name servers: the parent's delegation would stop working.
    assert prod.one(ZONE).protect is True
    assert staging.one(ZONE).protect is False


def test_desync_mitigation_is_strictest_in_prod_and_defensive_elsewhere(staging, prod):
    assert prod.one(ALB).inputs["desyncMitigationMode"] == "strictest"
    assert staging.one(ALB).inputs["desyncMitigationMode"] == "defensive"


def test_hsts_age_and_tls_policy_follow_the_domain_settings():
    run, _ = front_door_alone(
        domain=json.dumps(
            {
                "name": "api.example.com",
                "zoneName": "example.com",
                "hstsMaxAgeSeconds": 63072000,
                "tlsPolicy": "ELBSecurityPolicy-TLS13-1-3-2021-06",
            }
        )
    )
    https = next(r.inputs for r in run.of_type(LISTENER) if r.inputs["port"] == 443)
    assert https["routingHttpResponseStrictTransportSecurityHeaderValue"] == "max-age=63072000; includeSubDomains"
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-3-2021-06"


def test_an_existing_zone_is_used_not_created():
    run, exposed = front_door_alone(domain=json.dumps({"name": "api.example.com", "hostedZoneId": "Z0123456789ABC"}))
    assert run.of_type(ZONE) == []
    assert {r.inputs["zoneId"] for r in run.of_type(RECORD)} == {"Z0123456789ABC"}
    assert run.one(ACM).inputs["domainName"] == "api.example.com"
    assert exposed["zone"] == "Z0123456789ABC"
    assert exposed["domain"] == "api.example.com"


def test_an_existing_certificate_alone_serves_https_without_records():
    run, exposed = front_door_alone(domain=json.dumps({"name": "api.example.com", "certificateArn": CERTIFICATE}))
    assert run.of_type(ACM) == run.of_type(VALIDATION) == run.of_type(RECORD) == run.of_type(ZONE) == []
    https = next(r.inputs for r in run.of_type(LISTENER) if r.inputs["port"] == 443)
    assert https["certificateArn"] == CERTIFICATE
    assert exposed["url"] == "https://api.example.com"
    assert exposed["zone"] is None
    assert "point api.example.com at albDnsName" in exposed["note"]


def test_an_existing_certificate_with_a_zone_gets_the_alias_but_no_new_certificate():
    run, _ = front_door_alone(
        domain=json.dumps({"name": "api.example.com", "hostedZoneId": "Z0123456789ABC", "certificateArn": CERTIFICATE})
    )
    assert run.of_type(ACM) == []
    (alias,) = run.of_type(RECORD)
    assert (alias.inputs["name"], alias.inputs["type"], alias.inputs["zoneId"]) == (
        "api.example.com",
        "A",
        "Z0123456789ABC",
    )


# -- the WAF ---------------------------------------------------------------------------------
def rules_by_name(acl) -> dict:
    return {rule["name"]: rule for rule in acl.inputs["rules"]}


def test_prod_waf_has_the_managed_groups_and_a_rate_rule_per_ip(prod):
    acl = prod.one(WEB_ACL)
    assert (acl.inputs["name"], acl.inputs["scope"], acl.inputs["defaultAction"]) == (
        "flowbuilder-prod-api",
        "REGIONAL",
        {"allow": {}},
    )
    rules = rules_by_name(acl)
    assert [(r["priority"], name) for name, r in sorted(rules.items(), key=lambda item: item[1]["priority"])] == [
        (0, "AWSManagedRulesAmazonIpReputationList"),
        (1, "rate-limit-per-ip"),
        (2, "AWSManagedRulesCommonRuleSet"),
        (3, "AWSManagedRulesKnownBadInputsRuleSet"),
        (4, "AWSManagedRulesSQLiRuleSet"),
    ]
    for name in (
        "AWSManagedRulesAmazonIpReputationList",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
    ):
        assert rules[name]["statement"] == {"managedRuleGroupStatement": {"vendorName": "AWS", "name": name}}
        assert rules[name]["overrideAction"] == {"none": {}}
    common = rules["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]
    # Uploads and flow definitions are bigger than the 8 KB body the rule allows: count, do not block.
    assert common["ruleActionOverrides"] == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    rate = rules["rate-limit-per-ip"]
    assert rate["action"] == {"block": {}}
    assert rate["statement"] == {
        "rateBasedStatement": {"aggregateKeyType": "IP", "limit": 2000, "evaluationWindowSec": 300}
    }
    for name, rule in rules.items():
        assert rule["visibilityConfig"] == {
            "cloudwatchMetricsEnabled": True,
            "metricName": f"flowbuilder-prod-api-{name}",
            "sampledRequestsEnabled": True,
        }


def test_the_waf_is_associated_with_the_alb_and_logs_without_credentials(prod):
    acl, alb = prod.one(WEB_ACL), prod.one(ALB)
    association = prod.one("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert (association.inputs["webAclArn"], association.inputs["resourceArn"]) == (acl.state["arn"], alb.state["arn"])
    group = prod.one("aws:cloudwatch/logGroup:LogGroup", "waf-logs")
    assert (group.inputs["name"], group.inputs["retentionInDays"]) == ("aws-waf-logs-flowbuilder-prod", 30)
    logging = prod.one(WAF_LOGGING)
    assert logging.inputs["resourceArn"] == acl.state["arn"]
    assert logging.inputs["logDestinationConfigs"] == [group.state["arn"]]
    assert logging.inputs["redactedFields"] == [
        {"singleHeader": {"name": "authorization"}},
        {"singleHeader": {"name": "cookie"}},
    ]


def test_a_spike_of_blocked_requests_alarms_to_the_alert_topic(prod):
    alarm = prod.one("aws:cloudwatch/metricAlarm:MetricAlarm", "waf-blocked-requests")
    inputs = alarm.inputs
    assert (inputs["namespace"], inputs["metricName"], inputs["statistic"]) == ("AWS/WAFV2", "BlockedRequests", "Sum")
    assert inputs["dimensions"] == {"WebACL": "flowbuilder-prod-api", "Region": "us-east-1", "Rule": "ALL"}
    assert (inputs["comparisonOperator"], inputs["threshold"], inputs["period"]) == (
        "GreaterThanOrEqualToThreshold",
        500,
        300,
    )
    assert inputs["alarmActions"] == [prod.outputs["alertTopicArn"]]


def test_rate_limit_and_sql_injection_follow_the_waf_settings():
    run, exposed = front_door_alone(
        domain=json.dumps({"name": "api.example.com", "zoneName": "example.com"}),
        waf=json.dumps({"enabled": True, "rateLimitPer5Minutes": 500, "sqlInjection": False}),
    )
    rules = rules_by_name(run.one(WEB_ACL))
    assert "AWSManagedRulesSQLiRuleSet" not in rules
    assert rules["rate-limit-per-ip"]["statement"]["rateBasedStatement"]["limit"] == 500
    assert "waf-blocked-requests" in exposed["alarms"]


def test_without_the_waf_there_is_no_web_acl_and_no_waf_alarm():
    run, exposed = front_door_alone(domain=json.dumps({"name": "api.example.com", "zoneName": "example.com"}))
    assert run.of_type(WEB_ACL) == run.of_type(WAF_LOGGING) == []
    assert "waf-blocked-requests" not in exposed["alarms"]


# -- zero-scale: the HTTP API's own name ------------------------------------------------------
API_DOMAIN = "aws:apigatewayv2/domainName:DomainName"
MAPPING = "aws:apigatewayv2/apiMapping:ApiMapping"


@functools.cache
def api_domain_alone(stage: str | None = "$default", domain: str = "") -> StackRun:
    settings = json.loads(domain) if domain else {"name": "api.ultra.example.com", "zoneName": "ultra.example.com"}

    def build(context) -> None:
        found = HttpApiDomain(
            context.prefix,
            HttpApiDomainArgs(
                context,
                section(DomainConfig, "domain", Environment.PROD, Topology.ZERO_SCALE, **settings),
                api_id="a1b2c3d4e5",
                stage_name=stage,
            ),
        )
        pulumi.export("url", found.url)

    return run_component(build, stack="ultra")


def test_zero_scale_custom_domain_is_regional_tls12_dual_stack_and_maps_the_default_stage():
    run = api_domain_alone()
    domain = run.one(API_DOMAIN)
    assert domain.inputs["domainName"] == "api.ultra.example.com"
    assert domain.inputs["domainNameConfiguration"] == {
        "certificateArn": run.one(VALIDATION).inputs["certificateArn"],
        "endpointType": "REGIONAL",
        "securityPolicy": "TLS_1_2",
        "ipAddressType": "dualstack",
    }
    mapping = run.one(MAPPING)
    assert (mapping.inputs["apiId"], mapping.inputs["stage"], mapping.inputs["domainName"]) == (
        "a1b2c3d4e5",
        "$default",
        domain.id,
    )
    configuration = domain.state["domainNameConfiguration"]
    aliases = {r.inputs["type"]: r.inputs for r in run.of_type(RECORD) if r.inputs.get("aliases")}
    assert set(aliases) == {"A", "AAAA"}
    for record in aliases.values():
        assert record["name"] == "api.ultra.example.com"
        assert record["aliases"] == [
            {
                "name": configuration["targetDomainName"],
                "zoneId": configuration["hostedZoneId"],
                "evaluateTargetHealth": True,
            }
        ]
    assert run.one(ACM).inputs["domainName"] == "api.ultra.example.com"
    assert run.outputs["url"] == "https://api.ultra.example.com"


def test_zero_scale_custom_domain_waits_for_the_stage_before_mapping():
    run = api_domain_alone(stage=None)
    assert run.of_type(MAPPING) == []
    assert len(run.of_type(API_DOMAIN)) == 1


def test_committed_ultra_has_no_domain_and_keeps_its_execute_api_url(ultra):
    assert ultra.of_type(API_DOMAIN) == ultra.of_type(WEB_ACL) == []
    assert "domainName" not in ultra.outputs
