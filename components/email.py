"""Email: the SES domain identity the applications send from, its DNS records, and its events to the
backend through SNS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig.model import EmailConfig

from .context import StackContext
from .iam import policy_document, statement
from .watch import Alarm, Graph, Metric, MissingData, Severity, Watch

SEND_ACTIONS = ["ses:SendEmail", "ses:SendRawEmail"]
EVENT_TYPES = ["BOUNCE", "COMPLAINT", "DELIVERY", "REJECT"]
"""What the backend needs to act on: stop mailing bounced and complaining addresses, record
deliveries, and see what SES refused to send."""
SES_SERVICE = "ses.amazonaws.com"
DKIM_KEY_LENGTH = "RSA_2048_BIT"
DKIM_RECORDS = 3
"""Easy DKIM publishes three selectors (SES developer guide, "Easy DKIM")."""
RECORD_TTL_SECONDS = 1800
# SES reviews an account at 5 % bounces and 0.1 % complaints, and may pause sending at 10 % and
# 0.5 % (SES developer guide, "Sending review process FAQs"): alarm where the review starts.
BOUNCE_RATE_ALARM = 0.05
COMPLAINT_RATE_ALARM = 0.001
# SES computes reputation over a representative volume, not per minute: an hour's worst value
# is what it would act on.
REPUTATION_PERIOD_SECONDS = 3600
# SNS retries an unreachable HTTPS endpoint for about 45 minutes (at most 3,600 s and 100
# retries, SNS developer guide "HTTP/S delivery policies") instead of its default 3 retries in 20 s.
WEBHOOK_DELIVERY_POLICY = {
    "healthyRetryPolicy": {
        "minDelayTarget": 1,
        "maxDelayTarget": 60,
        "numRetries": 50,
        "numNoDelayRetries": 0,
        "numMinDelayRetries": 2,
        "numMaxDelayRetries": 35,
        "backoffFunction": "exponential",
    },
    "throttlePolicy": {"maxReceivesPerSecond": 10},
}


@dataclass
class EmailArgs:
    """Inputs of :class:`Email` (built only where ``email.enabled``)."""

    context: StackContext
    email: EmailConfig


def send_grant(identity_arn: pulumi.Input[str], configuration_set_arn: pulumi.Input[str]) -> dict[str, Any]:
    """What the application roles may do: send, from this identity through this configuration set only."""
    return statement(SEND_ACTIONS, [identity_arn, configuration_set_arn], sid="SendFromIdentity")


def spf_record() -> str:
    return '"v=spf1 include:amazonses.com ~all"'


def dmarc_record(settings: EmailConfig) -> str:
    report = f"; rua=mailto:{settings.dmarc_report_email}" if settings.dmarc_report_email else ""
    return f'"v=DMARC1; p={settings.dmarc_policy.value}{report}"'


class Email(pulumi.ComponentResource):
    """Transactional e-mail through SES v2 from ``email.domain``.

    Creates:

    * ``<name>-email``: the domain identity with Easy DKIM (RSA 2048) and the configuration set
      ``<prefix>-email`` as its default; the set requires TLS to receiving servers, publishes
      reputation metrics and keeps bounced and complaining addresses on the suppression list;
    * custom MAIL FROM ``<email.mailFromSubdomain>.<domain>`` (``mail``), falling back to SES's
      own domain while its MX record is missing;
    * ``<name>-email-events``: an SNS topic (encrypted with its own KMS key that SES may use)
      receiving the set's BOUNCE, COMPLAINT, DELIVERY and REJECT events; its policy lets only
      SES publish, for this account and this configuration set; where ``email.webhookUrl`` is
      set, an HTTPS subscription to it (the backend confirms it and verifies every message's
      signature: docs/email.md);
    * where ``email.hostedZoneId`` is set, the Route 53 records: three DKIM CNAMEs, the MAIL FROM
      MX and SPF TXT, and DMARC TXT ``p=<email.dmarcPolicy>`` (``none``).

    ``watch``: account bounce rate >= 5 % and complaint rate >= 0.1 % (critical), with a graph.
    ``grants``: ``ses:SendEmail`` and ``ses:SendRawEmail`` on the identity and configuration set.
    """

    identity: str
    identity_arn: pulumi.Output[str]
    configuration_set_name: pulumi.Output[str]
    configuration_set_arn: pulumi.Output[str]
    event_topic_arn: pulumi.Output[str]
    grants: list[dict[str, Any]]
    environment: dict[str, pulumi.Input[str]]
    watch: Watch

    def __init__(self, name: str, args: EmailArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Email", name, None, opts)
        context, settings = args.context, args.email
        if settings.domain is None:
            raise ValueError("Email needs email.domain (the config model requires it when email.enabled)")
        domain = settings.domain
        child = pulumi.ResourceOptions(parent=self)
        resource = f"{name}-email"

        configuration_set = aws.sesv2.ConfigurationSet(
            resource,
            configuration_set_name=context.name("ses-configuration-set", "email"),
            delivery_options=aws.sesv2.ConfigurationSetDeliveryOptionsArgs(tls_policy="REQUIRE"),
            reputation_options=aws.sesv2.ConfigurationSetReputationOptionsArgs(reputation_metrics_enabled=True),
            sending_options=aws.sesv2.ConfigurationSetSendingOptionsArgs(sending_enabled=True),
            suppression_options=aws.sesv2.ConfigurationSetSuppressionOptionsArgs(
                suppressed_reasons=["BOUNCE", "COMPLAINT"]
            ),
            opts=child,
        )
        identity = aws.sesv2.EmailIdentity(
            resource,
            email_identity=domain,
            configuration_set_name=configuration_set.configuration_set_name,
            dkim_signing_attributes=aws.sesv2.EmailIdentityDkimSigningAttributesArgs(
                next_signing_key_length=DKIM_KEY_LENGTH
            ),
            opts=child,
        )
        mail_from = f"{settings.mail_from_subdomain}.{domain}"
        aws.sesv2.EmailIdentityMailFromAttributes(
            resource,
            email_identity=identity.email_identity,
            mail_from_domain=mail_from,
            behavior_on_mx_failure="USE_DEFAULT_VALUE",
            opts=child,
        )
        topic, topic_policy = self._event_topic(resource, context, configuration_set)
        aws.sesv2.ConfigurationSetEventDestination(
            resource,
            configuration_set_name=configuration_set.configuration_set_name,
            event_destination_name="backend-events",
            event_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationArgs(
                enabled=True,
                matching_event_types=EVENT_TYPES,
                sns_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationSnsDestinationArgs(
                    topic_arn=topic.arn
                ),
            ),
            # The topic admits SES before the first event is routed to it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[topic_policy]),
        )
        if settings.webhook_url:
            aws.sns.TopicSubscription(
                f"{resource}-webhook",
                topic=topic.arn,
                protocol="https",
                endpoint=settings.webhook_url,
                # The envelope carries the signature the backend verifies.
                raw_message_delivery=False,
                delivery_policy=json.dumps(WEBHOOK_DELIVERY_POLICY),
                opts=child,
            )
        if settings.hosted_zone_id:
            self._records(resource, context, settings, identity, mail_from)

        self.identity = domain
        self.identity_arn = identity.arn
        self.configuration_set_name = configuration_set.configuration_set_name
        self.configuration_set_arn = configuration_set.arn
        self.event_topic_arn = topic.arn
        self.grants = [send_grant(identity.arn, configuration_set.arn)]
        self.environment = {"SES_IDENTITY": domain, "SES_CONFIGURATION_SET": configuration_set.configuration_set_name}
        self.watch = reputation_watch()
        self.register_outputs(
            {
                "identity": domain,
                "identity_arn": self.identity_arn,
                "configuration_set_name": self.configuration_set_name,
                "event_topic_arn": self.event_topic_arn,
            }
        )

    def _event_topic(
        self, resource: str, context: StackContext, configuration_set: aws.sesv2.ConfigurationSet
    ) -> tuple[aws.sns.Topic, aws.sns.TopicPolicy]:
        child = pulumi.ResourceOptions(parent=self)
        # Under the stack key, whose policy lets SES encrypt what it publishes; the topic policy
        # below decides which configuration set may publish.
        topic = aws.sns.Topic(
            f"{resource}-events",
            name=context.name("sns", "email-events"),
            kms_master_key_id=context.stack_key.arn,
            opts=child,
        )
        policy = aws.sns.TopicPolicy(
            f"{resource}-events",
            arn=topic.arn,
            policy=policy_document(
                {
                    "Sid": "SesPublishesEvents",
                    "Effect": "Allow",
                    "Principal": {"Service": SES_SERVICE},
                    "Action": "sns:Publish",
                    "Resource": topic.arn,
                    "Condition": {
                        "StringEquals": {
                            "AWS:SourceAccount": context.account.account,
                            "AWS:SourceArn": configuration_set.arn,
                        }
                    },
                }
            ),
            opts=child,
        )
        return topic, policy

    def _records(
        self,
        resource: str,
        context: StackContext,
        settings: EmailConfig,
        identity: aws.sesv2.EmailIdentity,
        mail_from: str,
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        zone, domain = settings.hosted_zone_id, settings.domain
        tokens = identity.dkim_signing_attributes.apply(lambda attributes: list(attributes.tokens or []))
        for index in range(DKIM_RECORDS):
            token = tokens.apply(lambda found, index=index: found[index])
            aws.route53.Record(
                f"{resource}-dkim-{index}",
                zone_id=zone,
                name=pulumi.Output.concat(token, f"._domainkey.{domain}"),
                type="CNAME",
                ttl=RECORD_TTL_SECONDS,
                records=[pulumi.Output.concat(token, ".dkim.amazonses.com")],
                opts=child,
            )
        aws.route53.Record(
            f"{resource}-mail-from-mx",
            zone_id=zone,
            name=mail_from,
            type="MX",
            ttl=RECORD_TTL_SECONDS,
            records=[f"10 feedback-smtp.{context.region}.amazonses.com"],
            opts=child,
        )
        aws.route53.Record(
            f"{resource}-mail-from-spf",
            zone_id=zone,
            name=mail_from,
            type="TXT",
            ttl=RECORD_TTL_SECONDS,
            records=[spf_record()],
            opts=child,
        )
        aws.route53.Record(
            f"{resource}-dmarc",
            zone_id=zone,
            name=f"_dmarc.{domain}",
            type="TXT",
            ttl=RECORD_TTL_SECONDS,
            records=[dmarc_record(settings)],
            opts=child,
        )


def reputation_watch() -> Watch:
    """The account's sending reputation as SES measures it (its metrics carry no dimension)."""
    bounce = Metric("AWS/SES", "Reputation.BounceRate", {})
    complaint = Metric("AWS/SES", "Reputation.ComplaintRate", {})
    alarms = tuple(
        Alarm(
            key,
            severity=Severity.CRITICAL,
            summary=f"The account's e-mail {what} rate reached {threshold:.1%}: SES starts reviewing the account here.",
            runbook=runbook,
            metric=metric,
            statistic="Maximum",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=threshold,
            evaluation_periods=1,
            period=REPUTATION_PERIOD_SECONDS,
            # SES publishes reputation only while it has mail to judge; keep the last state.
            treat_missing_data=MissingData.IGNORE,
            essential=True,
        )
        for key, what, metric, threshold, runbook in (
            (
                "ses-bounce-rate",
                "bounce",
                bounce,
                BOUNCE_RATE_ALARM,
                "Check that the backend suppresses addresses on BOUNCE events and stop sending to old or bought "
                "lists; the SES console's reputation page shows the review status.",
            ),
            (
                "ses-complaint-rate",
                "complaint",
                complaint,
                COMPLAINT_RATE_ALARM,
                "Stop the campaign that drew complaints, make unsubscribing one click, and check that the backend "
                "acts on COMPLAINT events.",
            ),
        )
    )
    graph = Graph(
        "E-mail reputation (ratio)",
        (bounce.line(label="bounce rate"), complaint.line(label="complaint rate")),
        stat="Maximum",
        threshold=BOUNCE_RATE_ALARM,
        threshold_label="bounce alarm",
    )
    return Watch(alarms, (graph,))
