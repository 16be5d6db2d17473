"""Uploads and Email: the bucket's protections and lifecycle, the CDN's access path, the SES
identity's records and events, what the application roles are granted, and their wiring."""

from __future__ import annotations

import functools
import json

import pytest

from components.email import Email, EmailArgs
from components.uploads import Uploads, UploadsArgs
from policy.offline import evaluate
from policy.rules import POLICIES
from preview.cost import estimate
from preview.report.diagram import build_diagram
from preview.report.docs import released_overrides
from preview.report.model import key_settings
from simulation.harness import StackRun, run_stack, stack_config
from simulation.mocks import ACCOUNT_ID
from stackconfig import Environment
from stackconfig.model import EmailConfig, UploadsConfig
from tests.component_support import REGION, STACK_KEY_ARN, run_component, section

BUCKET = "aws:s3/bucket:Bucket"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
CORS = "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
RECORD = "aws:route53/record:Record"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
CDN_CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0b7f4a8e-1c2d-4e5f-9a8b-7c6d5e4f3a2b"
EMAIL = {"enabled": True, "domain": "mail.example.com", "hostedZoneId": "Z0123456789ABC"}
WEBHOOK = "https://api.example.com/webhooks/ses"


@functools.cache
def uploads_alone(overrides: str = "{}", environment: Environment = Environment.DEV) -> tuple[StackRun, dict]:
    exposed: dict = {}

    def build(context) -> None:
        settings = section(UploadsConfig, "uploads", environment, **json.loads(overrides))
        part = Uploads(context.prefix, UploadsArgs(context, settings, protect=environment is Environment.PROD))
        exposed["environment"] = part.environment
        exposed["grants"] = part.grants

    return run_component(build), exposed


@functools.cache
def email_alone(overrides: str = "{}") -> tuple[StackRun, Email]:
    exposed: dict = {}

    def build(context) -> None:
        exposed["email"] = Email(
            context.prefix, EmailArgs(context, section(EmailConfig, "email", **{**EMAIL, **json.loads(overrides)}))
        )

    run = run_component(build)
    return run, exposed["email"]


def statements(resource) -> list[dict]:
    return json.loads(resource.inputs["policy"])["Statement"]


# -- Uploads ------------------------------------------------------------------------------
def test_bucket_is_private_owner_enforced_encrypted_and_tls_only() -> None:
    run, _ = uploads_alone()
    bucket = run.one(BUCKET)
    assert bucket.inputs["bucket"] == f"flowbuilder-dev-uploads-{ACCOUNT_ID}"
    assert not bucket.protect and not bucket.inputs.get("forceDestroy")
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    blocks = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert [block[k] for k in blocks] == [True] * 4
    ownership = run.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    encryption = run.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs
    assert encryption["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    (deny,) = statements(run.one(POLICY))
    arn = f"arn:aws:s3:::flowbuilder-dev-uploads-{ACCOUNT_ID}"
    assert deny == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert run.of_type(CORS) == [] and run.of_type(DISTRIBUTION) == [] and run.of_type(VERSIONING) == []


def test_lifecycle_tiers_the_prefix_and_aborts_multipart_after_a_week() -> None:
    run, _ = uploads_alone()
    rules = {rule["id"]: rule for rule in run.one(LIFECYCLE).inputs["rules"]}
    assert set(rules) == {"tier-down-uploads", "abort-incomplete-multipart-uploads"}
    assert rules["tier-down-uploads"]["filter"] == {"prefix": "uploads/"}
    assert rules["tier-down-uploads"]["transitions"] == [{"days": 30, "storageClass": "INTELLIGENT_TIERING"}]
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_prod_versions_expires_noncurrent_tags_for_backup_and_protects() -> None:
    run, _ = uploads_alone(environment=Environment.PROD)
    bucket = run.one(BUCKET)
    assert bucket.protect
    assert bucket.inputs["tags"] == {"backup-plan": "flowbuilder-dev"}
    assert run.one(VERSIONING).inputs["versioningConfiguration"] == {"status": "Enabled"}
    lifecycle = run.one(LIFECYCLE)
    rules = {rule["id"]: rule for rule in lifecycle.inputs["rules"]}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert rules["expire-noncurrent-versions"]["expiration"] == {"expiredObjectDeleteMarker": True}
    assert run.one(VERSIONING).urn in lifecycle.depends_on


def test_dev_bucket_carries_no_backup_tag() -> None:
    run, _ = uploads_alone()
    assert not run.one(BUCKET).inputs.get("tags")


def test_standard_ia_and_custom_prefix_reach_the_rules() -> None:
    run, exposed = uploads_alone(
        json.dumps({"prefix": "files/user/", "transitionStorageClass": "STANDARD_IA", "transitionAfterDays": 45})
    )
    rules = {rule["id"]: rule for rule in run.one(LIFECYCLE).inputs["rules"]}
    assert rules["tier-down-uploads"]["filter"] == {"prefix": "files/user/"}
    assert rules["tier-down-uploads"]["transitions"] == [{"days": 45, "storageClass": "STANDARD_IA"}]
    assert exposed["environment"]["UPLOADS_PREFIX"] == "files/user/"


def test_cors_allows_browser_uploads_from_the_configured_origins_only() -> None:
    origins = ["https://app.example.com", "https://admin.example.com:8443"]
    run, _ = uploads_alone(json.dumps({"corsOrigins": origins}))
    (rule,) = run.one(CORS).inputs["corsRules"]
    assert rule["allowedOrigins"] == origins
    assert rule["allowedMethods"] == ["PUT", "POST", "GET", "HEAD"]
    assert rule["allowedHeaders"] == ["Content-Type", "Content-MD5", "Content-Disposition", "x-amz-*"]
    assert rule["exposeHeaders"] == ["ETag"]


def test_cdn_reads_only_the_prefix_through_origin_access_control_over_https() -> None:
    cdn = {"enabled": True, "priceClass": "PriceClass_200", "alias": "media.example.com"}
    run, _ = uploads_alone(json.dumps({"cdn": {**cdn, "certificateArn": CDN_CERTIFICATE}}))
    distribution = run.one(DISTRIBUTION)
    inputs = distribution.inputs
    assert inputs["priceClass"] == "PriceClass_200" and inputs["aliases"] == ["media.example.com"]
    assert inputs["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"
    assert inputs["defaultCacheBehavior"]["allowedMethods"] == ["GET", "HEAD"]
    assert inputs["viewerCertificate"] == {
        "acmCertificateArn": CDN_CERTIFICATE,
        "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": "TLSv1.2_2021",
    }
    (origin,) = inputs["origins"]
    access_control = run.one("aws:cloudfront/originAccessControl:OriginAccessControl")
    assert origin["originAccessControlId"] == access_control.id
    assert origin["originPath"] == "/uploads"
    assert access_control.inputs["signingBehavior"] == "always"
    assert access_control.inputs["originAccessControlOriginType"] == "s3"
    deny, read = statements(run.one(POLICY))
    assert deny["Effect"] == "Deny"
    assert read == {
        "Sid": "CloudFrontReadsUploads",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::flowbuilder-dev-uploads-{ACCOUNT_ID}/uploads/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution.state["arn"]}},
    }


def test_cdn_without_alias_uses_the_default_certificate() -> None:
    run, _ = uploads_alone(json.dumps({"cdn": {"enabled": True}}))
    assert run.one(DISTRIBUTION).inputs["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert "aliases" not in run.one(DISTRIBUTION).inputs


# -- Email ----------------------------------------------------------------------------------
def test_identity_uses_easy_dkim_2048_custom_mail_from_and_its_configuration_set() -> None:
    run, _ = email_alone()
    identity = run.one("aws:sesv2/emailIdentity:EmailIdentity").inputs
    assert identity["emailIdentity"] == "mail.example.com"
    assert identity["dkimSigningAttributes"] == {"nextSigningKeyLength": "RSA_2048_BIT"}
    assert identity["configurationSetName"] == "flowbuilder-dev-email"
    mail_from = run.one("aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes").inputs
    assert mail_from["mailFromDomain"] == "mail.mail.example.com"
    assert mail_from["behaviorOnMxFailure"] == "USE_DEFAULT_VALUE"
    configuration = run.one("aws:sesv2/configurationSet:ConfigurationSet").inputs
    assert configuration["deliveryOptions"] == {"tlsPolicy": "REQUIRE"}
    assert configuration["reputationOptions"] == {"reputationMetricsEnabled": True}
    assert configuration["suppressionOptions"] == {"suppressedReasons": ["BOUNCE", "COMPLAINT"]}


def test_events_go_to_an_encrypted_topic_only_ses_for_this_set_may_publish() -> None:
    run, _ = email_alone(json.dumps({"webhookUrl": WEBHOOK}))
    destination = run.one("aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination").inputs
    topic = run.one("aws:sns/topic:Topic")
    assert destination["eventDestination"]["matchingEventTypes"] == ["BOUNCE", "COMPLAINT", "DELIVERY", "REJECT"]
    assert destination["eventDestination"]["snsDestination"] == {"topicArn": topic.state["arn"]}
    assert topic.inputs["name"] == "flowbuilder-dev-email-events"
    # The stack key, whose policy lets SES encrypt what it publishes (tests/test_security.py).
    assert topic.inputs["kmsMasterKeyId"] == STACK_KEY_ARN
    assert not run.of_type("aws:kms/key:Key")
    (publish,) = statements(run.one("aws:sns/topicPolicy:TopicPolicy"))
    assert publish["Principal"] == {"Service": "ses.amazonaws.com"} and publish["Action"] == "sns:Publish"
    assert publish["Condition"] == {
        "StringEquals": {
            "AWS:SourceAccount": ACCOUNT_ID,
            "AWS:SourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:configuration-set/flowbuilder-dev-email",
        }
    }
    subscription = run.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert (subscription["protocol"], subscription["endpoint"]) == ("https", WEBHOOK)
    assert subscription["rawMessageDelivery"] is False
    retry = json.loads(subscription["deliveryPolicy"])["healthyRetryPolicy"]
    assert retry["numRetries"] == 50
    assert retry["numNoDelayRetries"] + retry["numMinDelayRetries"] + retry["numMaxDelayRetries"] <= 50


def test_no_webhook_means_no_subscription() -> None:
    run, _ = email_alone()
    assert run.of_type("aws:sns/topicSubscription:TopicSubscription") == []


def test_route53_records_dkim_mail_from_spf_and_dmarc() -> None:
    run, _ = email_alone(json.dumps({"dmarcPolicy": "quarantine", "dmarcReportEmail": "dmarc@example.com"}))
    tokens = run.one("aws:sesv2/emailIdentity:EmailIdentity").state["dkimSigningAttributes"]["tokens"]
    records = {(r.inputs["type"], r.inputs["name"]): r.inputs for r in run.of_type(RECORD)}
    assert len(records) == 6
    for token in tokens:
        dkim = records[("CNAME", f"{token}._domainkey.mail.example.com")]
        assert dkim["records"] == [f"{token}.dkim.amazonses.com"]
        assert dkim["zoneId"] == "Z0123456789ABC"
    assert records[("MX", "mail.mail.example.com")]["records"] == [f"10 feedback-smtp.{REGION}.amazonses.com"]
    assert records[("TXT", "mail.mail.example.com")]["records"] == ['"v=spf1 include:amazonses.com ~all"']
    assert records[("TXT", "_dmarc.mail.example.com")]["records"] == [
        '"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"'
    ]


def test_no_zone_means_no_records() -> None:
    run, _ = email_alone(json.dumps({"hostedZoneId": None}))
    assert run.of_type(RECORD) == []


def test_reputation_alarms_fire_where_ses_starts_its_review() -> None:
    _, email = email_alone()
    alarms = {alarm.key: alarm for alarm in email.watch.alarms}
    assert set(alarms) == {"ses-bounce-rate", "ses-complaint-rate"}
    bounce, complaint = alarms["ses-bounce-rate"], alarms["ses-complaint-rate"]
    assert (bounce.metric.namespace, bounce.metric.name, bounce.threshold) == ("AWS/SES", "Reputation.BounceRate", 0.05)
    assert (complaint.metric.name, complaint.threshold) == ("Reputation.ComplaintRate", 0.001)
    assert {a.comparison for a in alarms.values()} == {"GreaterThanOrEqualToThreshold"}
    assert all(a.essential for a in alarms.values())


# -- wiring into the stack --------------------------------------------------------------------
WITH_EMAIL_AND_CDN = {
    "flowbuilder:email": {**EMAIL, "webhookUrl": WEBHOOK},
    "flowbuilder:uploads": {"cdn": {"enabled": True}},
}


@functools.cache
def dev_with_email() -> StackRun:
    return run_stack("dev", WITH_EMAIL_AND_CDN)


def test_every_part_on_passes_the_policy_pack() -> None:
    findings = evaluate(dev_with_email(), stack_config("dev", WITH_EMAIL_AND_CDN))
    assert [f"{f.rule}: {f.name}: {f.message}" for f in findings if f.mandatory] == []
    checked = {rule.name for rule in POLICIES}
    assert {"s3-tls-only", "cloudfront-https-only", "ses-configuration-set"} <= checked


def _grant_documents(run: StackRun, component: str) -> dict[str, list[dict]]:
    return {
        r.inputs["role"]: statements(r)
        for r in run.of_type(ROLE_POLICY)
        if r.name.startswith(f"flowbuilder-dev-{component}-access-")
    }


def test_api_and_worker_alone_get_exactly_object_access_under_the_prefix() -> None:
    run = dev_with_email()
    roles = {r.name: r.state["name"] for r in run.of_type("aws:iam/role:Role")}
    granted = _grant_documents(run, "uploads")
    assert set(granted) == {roles["flowbuilder-dev-api-task"], roles["flowbuilder-dev-worker-task"]}
    for document in granted.values():
        assert document == [
            {
                "Sid": "UploadsObjects",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                "Resource": [f"arn:aws:s3:::flowbuilder-dev-uploads-{ACCOUNT_ID}/uploads/*"],
            }
        ]


def test_api_and_worker_send_only_from_the_identity_and_set() -> None:
    run = dev_with_email()
    granted = _grant_documents(run, "email")
    assert len(granted) == 2
    for document in granted.values():
        assert document == [
            {
                "Sid": "SendFromIdentity",
                "Effect": "Allow",
                "Action": ["ses:SendEmail", "ses:SendRawEmail"],
                "Resource": [
                    f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/mail.example.com",
                    f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:configuration-set/flowbuilder-dev-email",
                ],
            }
        ]


@pytest.mark.parametrize("family", ["flowbuilder-dev-api", "flowbuilder-dev-worker"])
def test_containers_are_told_the_bucket_cdn_and_identity(family: str) -> None:
    run = dev_with_email()
    definition = next(r for r in run.of_type("aws:ecs/taskDefinition:TaskDefinition") if r.inputs["family"] == family)
    (container,) = json.loads(definition.inputs["containerDefinitions"])
    environment = {entry["name"]: entry["value"] for entry in container["environment"]}
    assert environment["UPLOADS_BUCKET"] == f"flowbuilder-dev-uploads-{ACCOUNT_ID}"
    assert environment["UPLOADS_PREFIX"] == "uploads/"
    assert environment["UPLOADS_CDN_DOMAIN"] == run.one(DISTRIBUTION).state["domainName"]
    assert environment["SES_IDENTITY"] == "mail.example.com"
    assert environment["SES_CONFIGURATION_SET"] == "flowbuilder-dev-email"


def test_outputs_and_reputation_alarms_reach_the_stack() -> None:
    run = dev_with_email()
    assert run.outputs["uploadsBucketName"] == f"flowbuilder-dev-uploads-{ACCOUNT_ID}"
    assert run.outputs["uploadsCdnDomain"] == run.one(DISTRIBUTION).state["domainName"]
    assert run.outputs["emailIdentity"] == "mail.example.com"
    assert run.outputs["emailConfigurationSet"] == "flowbuilder-dev-email"
    assert run.outputs["emailEventTopicArn"] == run.one("aws:sns/topic:Topic", "email-events").state["arn"]
    alarms = {r.inputs["name"]: r.inputs for r in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    bounce = alarms["flowbuilder-dev-ses-bounce-rate"]
    assert (bounce["metricName"], bounce["namespace"]) == ("Reputation.BounceRate", "AWS/SES")
    assert bounce["threshold"] == 0.05
    assert alarms["flowbuilder-dev-ses-complaint-rate"]["threshold"] == 0.001


def test_zero_scale_api_function_is_told_the_bucket_when_uploads_are_asked_for() -> None:
    run = run_stack(
        "ultra",
        {**released_overrides("ultra"), "flowbuilder:uploads": {"enabled": True}},
        secrets={"flowbuilder:externalDatabaseUrl": "postgresql://app:pw@db.example.com:5432/app"},
    )
    functions = run.of_type("aws:lambda/function:Function")
    function = next(r for r in functions if r.inputs["name"] == "flowbuilder-ultra-api")
    variables = function.inputs["environment"]["variables"]
    assert variables["UPLOADS_BUCKET"] == f"flowbuilder-ultra-uploads-{ACCOUNT_ID}"
    assert len([r for r in run.of_type(ROLE_POLICY) if r.name.startswith("flowbuilder-ultra-uploads-access-")]) == 2


def test_committed_stacks_have_uploads_except_ultra_and_no_email() -> None:
    for stack, expected in (("dev", 1), ("ultra", 0)):
        run = run_stack(stack, secrets={"flowbuilder:externalDatabaseUrl": "postgresql://a:b@db.example.com/x"})
        assert len([r for r in run.of_type(BUCKET) if r.name.endswith("-uploads")]) == expected
        assert run.of_type("aws:sesv2/emailIdentity:EmailIdentity") == []


def test_diagram_draws_the_upload_cdn_and_email_flows() -> None:
    flows = build_diagram(dev_with_email()).flows()
    for expected in (
        "Internet --> CloudFront uploads PriceClass_100  [HTTPS]",
        "CloudFront uploads PriceClass_100 --> S3 uploads  [read (origin access control)]",
        "ECS api on-demand, 0-0 tasks --> S3 uploads  [put/get objects]",
        "ECS worker Spot, 0-0 tasks --> S3 uploads  [put/get objects]",
        "ECS api on-demand, 0-0 tasks --> SES mail.example.com  [send]",
        "SES mail.example.com --> SNS email-events  [bounce, complaint, delivery, reject]",
        "SNS email-events --> webhook api.example.com  [HTTPS]",
    ):
        assert expected in flows
    assert not any("Lambda scheduler" in flow and "S3 uploads" in flow for flow in flows)


def test_idle_cost_of_uploads_is_zero_and_email_is_two_alarms() -> None:
    plain, with_parts = estimate(run_stack("dev")), estimate(dev_with_email())
    # An empty bucket and an idle distribution bill nothing; storage and transfer are listed as usage.
    assert not [line for line in with_parts.lines if line.component == "Uploads"]
    assert "S3 Standard storage $0.023/GB-month plus requests" in plain.left_out
    # E-mail adds two alarm metrics (dev is past the free ten already); its topic is under the stack key.
    assert round(with_parts.total_usd - plain.total_usd, 2) == 0.2
    assert "SES e-mail $0.1/1,000 sent" in with_parts.left_out
    assert any(note.startswith("CloudFront transfer to viewers $0.085/GB") for note in with_parts.left_out)


def test_preview_shows_what_each_bucket_setting_enforces() -> None:
    run, _ = uploads_alone(environment=Environment.PROD)
    shown = {r.type.split(":")[-1]: key_settings(r) for r in run.resources if r.type.startswith("aws:s3/")}
    assert shown["BucketOwnershipControls"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert shown["BucketServerSideEncryptionConfiguration"] == {"sseAlgorithm": "AES256"}
    assert shown["BucketPolicy"] == {"statements": ["DenyInsecureTransport (Deny)"]}
    assert shown["BucketVersioning"] == {"status": "Enabled"}
    assert shown["BucketLifecycleConfiguration"] == {
        "tier-down-uploads": "uploads/: INTELLIGENT_TIERING after 30 d",
        "abort-incomplete-multipart-uploads": "(all): abort multipart after 7 d",
        "expire-noncurrent-versions": "(all): noncurrent versions expire after 30 d",
    }
    assert shown["Bucket"]["tags"] == {"backup-plan": "flowbuilder-dev"}
