"""Monitoring: the alert topic, the alarms that page, the dashboard and the monthly budget of a stack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig.model import MonitoringConfig

from .context import StackContext
from .iam import policy_document
from .watch import Alarm, Graph, Query, Watch


@dataclass
class MonitoringArgs:
    """Inputs of :class:`Monitoring`: its settings and what every other component asks it to watch."""

    context: StackContext
    monitoring: MonitoringConfig
    watches: Sequence[Watch]
    """In dashboard order; each component's ``watch``."""
    essential_alarms_only: bool = False
    """Keep only the alarms that report lost work or failed requests (zero-scale: each alarm metric
    costs $0.10 a month and the budget is $10)."""


class Monitoring(pulumi.ComponentResource):
    """What tells the team that the stack is unwell or too expensive.

    Creates:

    * the SNS topic ``<name>-alerts`` encrypted with the stack key (CloudWatch alarms and AWS
      Budgets cannot publish to a topic under the AWS-managed ``aws/sns`` key, whose policy cannot
      grant them; the stack key's policy does), a topic policy letting only this account's alarms and
      budgets publish, and one e-mail subscription per ``monitoring.alertEmails`` (default none);
    * one alarm ``<name>-<key>`` per alarm the watches name (all of them, or only the essential ones),
      each with alarm and OK actions to the topic and the description
      ``<SEVERITY>: <summary> Runbook: <runbook> (docs/monitoring.md, <key>)``;
    * when ``monitoring.dashboard`` (standard: on, zero-scale: off) the dashboard
      ``<name>-overview``: the status of every alarm, then the watches' graphs in the order given,
      graphs of the same title drawn as one;
    * the AWS Budget ``<name>-monthly``: ``monitoring.monthlyBudgetUsd`` (dev 75, staging 400,
      prod 1500, zero-scale 10) of cost tagged ``stack=<stack>``, notifying the topic at 80% of
      actual and 100% of forecast spend.
    """

    topic_arn: pulumi.Output[str]
    alarm_names: dict[str, pulumi.Output[str]]
    """Keyed by the alarm's key (``dlq-not-empty``, ``api-cpu-high``, ...)."""
    dashboard_name: pulumi.Output[str] | None
    dashboard_url: pulumi.Output[str] | None
    budget_name: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Monitoring", name, None, opts)
        self._name = name
        self._context = context = args.context
        self._settings = settings = args.monitoring

        topic, topic_policy = self._topic()
        # Alarms validate their actions; the topic policy must let CloudWatch publish first.
        alarm_opts = pulumi.ResourceOptions(parent=self, depends_on=[topic_policy])
        alarms = [
            alarm
            for watch in args.watches
            for alarm in watch.alarms
            if alarm.essential or not args.essential_alarms_only
        ]
        keys = [alarm.key for alarm in alarms]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"alarm keys watched twice: {', '.join(repeated)}")
        resources = {alarm.key: self._alarm(alarm, topic.arn, alarm_opts) for alarm in alarms}
        budget = self._budget(topic, topic_policy)

        self.topic_arn = topic.arn
        self.alarm_names = {key: alarm.name for key, alarm in resources.items()}
        self.budget_name = budget.name
        self.dashboard_name = self.dashboard_url = None
        if settings.dashboard:
            graphs = [graph for watch in args.watches for graph in watch.graphs]
            dashboard = self._dashboard(list(resources.values()), graphs)
            self.dashboard_name = dashboard.dashboard_name
            region = context.region
            self.dashboard_url = dashboard.dashboard_name.apply(
                lambda dashboard_name: (
                    f"https://{region}.console.aws.amazon.com/cloudwatch/home"
                    f"?region={region}#dashboards/dashboard/{dashboard_name}"
                )
            )
        if not settings.alert_emails:
            pulumi.log.warn(
                "monitoring.alertEmails is empty: alarms and budget notifications reach the alert topic, "
                "which nobody is subscribed to (see docs/monitoring.md)",
                resource=self,
            )
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "alarm_names": self.alarm_names,
                "dashboard_name": self.dashboard_name,
                "dashboard_url": self.dashboard_url,
                "budget_name": self.budget_name,
            }
        )

    # -- topic ---------------------------------------------------------------
    def _topic(self) -> tuple[aws.sns.Topic, aws.sns.TopicPolicy]:
        topic = aws.sns.Topic(
            f"{self._name}-alerts",
            name=self._context.name("sns", "alerts"),
            display_name=f"{self._name} alerts",
            kms_master_key_id=self._context.stack_key.arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        account = self._context.account
        region, partition = account.region, account.partition
        account_id = account.account
        policy = aws.sns.TopicPolicy(
            f"{self._name}-alerts",
            arn=topic.arn,
            policy=policy_document(
                {
                    "Sid": "AlarmsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic.arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"},
                    },
                },
                {
                    "Sid": "BudgetsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "budgets.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic.arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {"aws:SourceArn": f"arn:{partition}:budgets::{account_id}:*"},
                    },
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for email in self._settings.alert_emails:
            # Named by address, so editing the list never re-creates (and re-confirms) the others.
            aws.sns.TopicSubscription(
                f"{self._name}-alerts-{email}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return topic, policy

    # -- alarms --------------------------------------------------------------
    def _alarm(
        self, alarm: Alarm, topic_arn: pulumi.Output[str], opts: pulumi.ResourceOptions
    ) -> aws.cloudwatch.MetricAlarm:
        single: dict[str, Any] = {}
        if alarm.metric is not None:
            single = {
                "namespace": alarm.metric.namespace,
                "metric_name": alarm.metric.name,
                "dimensions": alarm.metric.dimensions,
                "statistic": alarm.statistic,
                "extended_statistic": alarm.extended_statistic,
                "evaluate_low_sample_count_percentiles": alarm.evaluate_low_sample_count_percentiles,
                "period": alarm.period,
            }
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{alarm.key}",
            name=self._context.name("alarm", alarm.key),
            alarm_description=alarm.description,
            comparison_operator=alarm.comparison,
            threshold=alarm.threshold,
            evaluation_periods=alarm.evaluation_periods,
            datapoints_to_alarm=alarm.evaluation_periods,
            treat_missing_data=alarm.treat_missing_data.value,
            metric_queries=[_query(query) for query in alarm.queries] or None,
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            opts=opts,
            **single,
        )

    # -- budget --------------------------------------------------------------
    def _budget(self, topic: aws.sns.Topic, topic_policy: aws.sns.TopicPolicy) -> aws.budgets.Budget:
        settings, stack = self._settings, self._context.stack

        def notification(threshold: float, kind: str) -> aws.budgets.BudgetNotificationArgs:
            return aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                threshold=threshold,
                threshold_type="PERCENTAGE",
                notification_type=kind,
                subscriber_sns_topic_arns=[topic.arn],
            )

        return aws.budgets.Budget(
            f"{self._name}-monthly",
            name=self._context.name("budget", "monthly"),
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{settings.monthly_budget_usd:.1f}",
            limit_unit="USD",
            # Every resource carries the stack tag through the provider's default tags; Billing must
            # have it activated as a cost-allocation tag for the filter to see any cost.
            cost_filters=[aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[cost_allocation_filter(stack)])],
            notifications=[notification(80, "ACTUAL"), notification(100, "FORECASTED")],
            # Budgets checks it may publish to the topic when the notification is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[topic_policy]),
        )

    # -- dashboard -----------------------------------------------------------
    def _dashboard(self, alarms: list[aws.cloudwatch.MetricAlarm], graphs: list[Graph]) -> aws.cloudwatch.Dashboard:
        widgets: list[dict[str, Any]] = [
            {
                "type": "alarm",
                "width": 24,
                "height": 3,
                "properties": {"title": "Alarms", "alarms": [alarm.arn for alarm in alarms]},
            }
        ]
        widgets += [self._widget(graph) for graph in merge_graphs(graphs)]
        return aws.cloudwatch.Dashboard(
            f"{self._name}-overview",
            dashboard_name=self._context.name("dashboard", "overview"),
            dashboard_body=pulumi.Output.json_dumps({"widgets": widgets}),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _widget(self, graph: Graph) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "title": graph.title,
            "view": "timeSeries",
            "region": self._context.region,
            "stat": graph.stat,
            "period": 60,
            "metrics": list(graph.lines),
        }
        if graph.threshold is not None:
            properties["annotations"] = {"horizontal": [{"label": graph.threshold_label, "value": graph.threshold}]}
        return {"type": "metric", "width": graph.width, "height": 6, "properties": properties}


def merge_graphs(graphs: list[Graph]) -> list[Graph]:
    """One graph per title, where the first of that title stood, with the lines of all of them."""
    merged: dict[str, Graph] = {}
    for graph in graphs:
        first = merged.get(graph.title)
        merged[graph.title] = graph if first is None else Graph(**{**vars(first), "lines": first.lines + graph.lines})
    return list(merged.values())


def cost_allocation_filter(stack: str) -> str:
    """The Budgets ``TagKeyValue`` filter value for the ``stack`` user tag."""
    return f"user:stack${stack}"


def _query(query: Query) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    metric = query.metric
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query.id,
        metric=(
            aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=metric.namespace,
                metric_name=metric.name,
                dimensions=metric.dimensions,
                stat=query.stat,
                period=query.period,
            )
            if metric is not None
            else None
        ),
        expression=query.expression,
        label=query.label,
        return_data=query.return_data,
    )
