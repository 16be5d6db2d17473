"""The web application firewall of the load balancer: AWS managed rules, a per-IP rate limit, logs.

Each managed rule group and the rate rule is one WAF "rule" ($1 a month each, on top of $5 for the
web ACL and $0.60 per million requests); the AWS managed groups used here carry no fee of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig.model import WafConfig

from ..context import StackContext
from ..logs import log_group
from ..watch import Alarm, Graph, Metric, MissingData, Severity, Watch

RATE_WINDOW_SECONDS = 300
BODY_SIZE_RULE = "SizeRestrictions_BODY"
"""The common rule set blocks request bodies over 8 KB. Flow definitions and uploads through the API
are larger, so this one rule only counts (it still shows in the metrics and logs)."""
REDACTED_HEADERS = ("authorization", "cookie")
"""WAF logs every header of a matched request; these carry credentials and never reach the log."""
BLOCKED_SPIKE_PER_5_MINUTES = 500
"""Blocked requests in 5 minutes that page someone: well above scanners' background noise, well
below what an attack or a broken client behind the rate limit produces."""
WAF_METRICS = "AWS/WAFV2"


@dataclass(frozen=True)
class WafRule:
    """One rule of the web ACL, as the preview and the docs list it."""

    name: str
    priority: int
    what: str


def waf_rules(waf: WafConfig) -> list[WafRule]:
    """The rules, in evaluation order: the cheapest verdicts (bad addresses, floods) first."""
    rules = [
        WafRule("AWSManagedRulesAmazonIpReputationList", 0, "addresses AWS threat intelligence lists as malicious"),
        WafRule(
            "rate-limit-per-ip",
            1,
            f"more than {waf.rate_limit_per_5_minutes} requests from one IP in {RATE_WINDOW_SECONDS // 60} minutes",
        ),
        WafRule("AWSManagedRulesCommonRuleSet", 2, f"OWASP-style common attacks ({BODY_SIZE_RULE} counts only)"),
        WafRule("AWSManagedRulesKnownBadInputsRuleSet", 3, "request patterns of known exploits (Log4j, ...)"),
    ]
    if waf.sql_injection:
        rules.append(WafRule("AWSManagedRulesSQLiRuleSet", 4, "SQL injection in the query, body and cookies"))
    return rules


def _visibility(metric_name: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _rule(rule: WafRule, waf: WafConfig, prefix: str) -> aws.wafv2.WebAclRuleArgs:
    visibility = _visibility(f"{prefix}-{rule.name}")
    if rule.name == "rate-limit-per-ip":
        return aws.wafv2.WebAclRuleArgs(
            name=rule.name,
            priority=rule.priority,
            action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
            statement=aws.wafv2.WebAclRuleStatementArgs(
                rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                    aggregate_key_type="IP",
                    limit=waf.rate_limit_per_5_minutes,
                    evaluation_window_sec=RATE_WINDOW_SECONDS,
                )
            ),
            visibility_config=visibility,
        )
    overrides = (
        [
            aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
                name=BODY_SIZE_RULE,
                action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                    count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
                ),
            )
        ]
        if rule.name == "AWSManagedRulesCommonRuleSet"
        else None
    )
    return aws.wafv2.WebAclRuleArgs(
        name=rule.name,
        priority=rule.priority,
        # The group's own actions apply (block), except where rule_action_overrides says otherwise.
        override_action=aws.wafv2.WebAclRuleOverrideActionArgs(none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                vendor_name="AWS", name=rule.name, rule_action_overrides=overrides
            )
        ),
        visibility_config=visibility,
    )


@dataclass(frozen=True)
class Firewall:
    """What the firewall declared."""

    web_acl_name: str
    web_acl_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    rules: list[WafRule]
    watch: Watch


def load_balancer_firewall(
    name: str,
    context: StackContext,
    waf: WafConfig,
    load_balancer_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> Firewall:
    """``<name>-waf``: a REGIONAL web ACL allowing by default, its rules, its association with the load
    balancer, and its logging to ``aws-waf-logs-<prefix>`` (WAF only writes to log groups named so)."""
    acl_name = context.name("waf", "api")
    rules = waf_rules(waf)
    acl = aws.wafv2.WebAcl(
        f"{name}-waf",
        name=acl_name,
        description=f"Flow Builder API of the {context.stack} stack",
        scope="REGIONAL",
        default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
        rules=[_rule(rule, waf, acl_name) for rule in rules],
        visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
            cloudwatch_metrics_enabled=True, metric_name=acl_name, sampled_requests_enabled=True
        ),
        opts=opts,
    )
    aws.wafv2.WebAclAssociation(f"{name}-waf", resource_arn=load_balancer_arn, web_acl_arn=acl.arn, opts=opts)
    logs = log_group(f"{name}-waf-logs", f"aws-waf-logs-{context.prefix}", context, opts)
    aws.wafv2.WebAclLoggingConfiguration(
        f"{name}-waf",
        resource_arn=acl.arn,
        log_destination_configs=[logs.arn],
        redacted_fields=[
            aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=header)
            )
            for header in REDACTED_HEADERS
        ],
        opts=opts,
    )
    return Firewall(acl_name, acl.arn, logs.name, rules, firewall_watch(acl_name, context))


def firewall_watch(acl_name: str, context: StackContext) -> Watch:
    """A spike of blocked requests, and what was allowed, blocked and counted."""
    acl = {"WebACL": acl_name, "Region": context.region, "Rule": "ALL"}
    blocked = Metric(WAF_METRICS, "BlockedRequests", acl)
    return Watch(
        (
            Alarm(
                "waf-blocked-requests",
                severity=Severity.WARNING,
                summary=f"The WAF blocked {BLOCKED_SPIKE_PER_5_MINUTES} or more requests in 5 minutes.",
                runbook=(
                    f"Read aws-waf-logs-{context.prefix} (terminatingRuleId, httpRequest.clientIp): an attack needs "
                    "no action beyond watching; a client of ours being blocked needs its rule, or "
                    "waf.rateLimitPer5Minutes, looked at."
                ),
                metric=blocked,
                statistic="Sum",
                comparison="GreaterThanOrEqualToThreshold",
                threshold=BLOCKED_SPIKE_PER_5_MINUTES,
                evaluation_periods=1,
                # WAF publishes only for periods with matching requests.
                treat_missing_data=MissingData.NOT_BREACHING,
            ),
        ),
        (
            Graph(
                "API: WAF requests",
                (
                    Metric(WAF_METRICS, "AllowedRequests", acl).line(label="allowed"),
                    blocked.line(label="blocked"),
                    Metric(WAF_METRICS, "CountedRequests", acl).line(label="counted"),
                ),
                stat="Sum",
                threshold=BLOCKED_SPIKE_PER_5_MINUTES,
            ),
        ),
    )
