"""Monitoring: the alert topic, the alarms that page, the dashboard and the monthly budget of a stack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig import StackConfig, physical_name

from .context import AwsAccount
from .iam import policy_document

PERIOD_SECONDS = 300
"""Alarms evaluate 5-minute periods unless said otherwise: SQS, RDS and ECS publish every minute,
and five of them smooth a single slow sample without hiding a real problem for long."""

CPU_PERCENT = 80
BACKLOG_WARNING_MESSAGES = 100
BACKLOG_CRITICAL_MESSAGES = 1000
ERROR_RATE_WARNING_PERCENT = 1
ERROR_RATE_CRITICAL_PERCENT = 5
MIN_REQUESTS_FOR_ERROR_RATE = 10
"""Below this many requests in a period the 5xx rate reads 0: one failed request out of three at
night is not an outage, and the no-healthy-targets alarm covers a dead API."""
LATENCY_P95_SECONDS = 2
HTTP_API_5XX_COUNT = 5
"""The zero-scale API alarms on a count, not a rate: a rate needs ``Count`` as well, one more alarm
metric, and ultra's must stay inside CloudWatch's free 10. Five failed requests in five minutes is
more than a cold start or a single bad request."""
HTTP_API_STAGE = "$default"
"""The one stage of the zero-scale HTTP API (components/serverless_api.py)."""
FREE_STORAGE_FRACTION = 0.10
FREEABLE_MEMORY_BYTES = 64 * 1024**2
GIB = 1024**3

ERROR_RATE_EXPRESSIONS = (
    # (id, expression, label, returned). The load balancer's own 5xx (503 with no healthy
    # target) never reach RequestCount, so they are added to both sides of the ratio.
    ("errors", "FILL(target5xx, 0) + FILL(elb5xx, 0)", "5xx responses", False),
    ("total", "FILL(requests, 0) + FILL(elb5xx, 0)", "requests", False),
    ("rate", f"IF(total >= {MIN_REQUESTS_FOR_ERROR_RATE}, 100 * errors / total, 0)", "5xx rate (%)", True),
)

BACKLOG_METRICS = ("QueueBacklog", "BacklogPerTask")
"""Published by the worker's queue-backlog sampler (see components/functions/queue_backlog.py)."""

NOT_BREACHING = "notBreaching"
BREACHING = "breaching"
IGNORE = "ignore"
MISSING = "missing"


@dataclass
class MonitoringArgs:
    """Inputs of :class:`Monitoring`: the name of every resource it watches.

    Each optional input names a resource that some topologies (or a stack waiting for its first
    image) do not have; a missing one drops its alarms and dashboard widgets, never leaves a
    widget pointing at a name that does not exist.
    """

    config: StackConfig
    queue_name: pulumi.Input[str]
    dlq_name: pulumi.Input[str]
    cluster_name: pulumi.Input[str] | None = None
    """ECS cluster of the api and worker services (standard)."""
    api_service_name: pulumi.Input[str] | None = None
    worker_service_name: pulumi.Input[str] | None = None
    backlog_metric_namespace: str | None = None
    """Namespace of the worker's backlog sampler metrics (dimensions ClusterName, ServiceName)."""
    load_balancer_arn_suffix: pulumi.Input[str] | None = None
    """``app/<name>/<id>``: the ALB's ``LoadBalancer`` dimension."""
    target_group_arn_suffix: pulumi.Input[str] | None = None
    """``targetgroup/<name>/<id>``: the api target group's ``TargetGroup`` dimension."""
    db_instance_identifier: pulumi.Input[str] | None = None
    db_allocated_storage_gb: int | None = None
    scheduler_function_name: pulumi.Input[str] | None = None
    """Only once the function exists (a container-image function waits for its first image)."""
    scheduler_failure_queue_name: pulumi.Input[str] | None = None
    pipe_name: pulumi.Input[str] | None = None
    state_machine_arn: pulumi.Input[str] | None = None
    http_api_id: pulumi.Input[str] | None = None
    """The zero-scale HTTP API, only once it serves (its ``$default`` stage exists with the function)."""
    api_function_name: pulumi.Input[str] | None = None
    """The zero-scale API function, only once it exists (it waits for its first image)."""

    def __post_init__(self) -> None:
        if (self.api_service_name is not None or self.worker_service_name is not None) and self.cluster_name is None:
            raise ValueError("ECS service alarms need cluster_name as well as the service names")
        if self.target_group_arn_suffix is not None and self.load_balancer_arn_suffix is None:
            raise ValueError("target_group_arn_suffix needs load_balancer_arn_suffix (ALB metrics use both dimensions)")
        if self.db_instance_identifier is not None and not self.db_allocated_storage_gb:
            raise ValueError("db_instance_identifier needs db_allocated_storage_gb for the free-storage threshold")
        if self.backlog_metric_namespace and (self.cluster_name is None or self.worker_service_name is None):
            raise ValueError("backlog_metric_namespace needs cluster_name and worker_service_name (its dimensions)")


@dataclass(frozen=True)
class _Metric:
    namespace: str
    name: str
    dimensions: dict[str, pulumi.Input[str]]


class Monitoring(pulumi.ComponentResource):
    """What tells the team that the stack is unwell or too expensive.

    Creates:

    * a customer-managed KMS key (rotation on, $1/month) encrypting the alert topic. CloudWatch
      alarms and AWS Budgets cannot publish to a topic encrypted with the AWS-managed ``aws/sns``
      key, whose policy cannot grant them; this key's policy grants ``cloudwatch.amazonaws.com``
      and ``budgets.amazonaws.com`` ``kms:GenerateDataKey*`` and ``kms:Decrypt``;
    * the SNS topic ``<name>-alerts``, a topic policy letting only this account's alarms and
      budgets publish, and one e-mail subscription per ``monitoring.alertEmails`` (default none);
    * alarms, each with alarm and OK actions to the topic and a chosen ``treat_missing_data``
      (thresholds and runbook in docs/monitoring.md). Standard: ECS CPU > 80% (api, worker);
      queue backlog > 100 (warning) and > 1000 (critical); oldest message older than
      ``monitoring.oldestMessageAgeSeconds`` (900 s); dead-letter queues not empty; ALB 5xx rate
      > 1% (warning) and > 5% (critical); p95 latency > 2 s; no healthy API target; RDS CPU > 80%,
      free storage < 10% of ``database.allocatedStorageGb``, freeable memory < 64 MiB; scheduler
      errors and throttles. Zero-scale keeps only the alarms that watch for lost work and failed
      requests: dead-letter queues, scheduler errors, pipe and worker-run failures, and, once the
      API function exists, HTTP API 5xx >= 5 in 5 minutes and API function throttles;
    * when ``monitoring.dashboard`` (standard: on, zero-scale: off) the dashboard
      ``<name>-overview``: alarm status, ECS, SQS, ALB, RDS, Lambda, Pipes and Step Functions
      graphs of this stack's resources;
    * the AWS Budget ``<name>-monthly``: ``monitoring.monthlyBudgetUsd`` (dev 75, staging 400,
      prod 1500, zero-scale 10) of cost tagged ``stack=<stack>``, notifying the topic at 80% of
      actual and 100% of forecast spend.
    """

    topic_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    alarm_names: dict[str, pulumi.Output[str]]
    """Keyed by the alarm's suffix (``dlq-not-empty``, ``api-cpu-high``, ...)."""
    dashboard_name: pulumi.Output[str] | None
    dashboard_url: pulumi.Output[str] | None
    budget_name: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Monitoring", name, None, opts)
        self._name = name
        self._args = args
        self._config = config = args.config
        self._aws = AwsAccount.of(self, config.region)

        key = self._key()
        topic, topic_policy = self._topic(key)
        self._topic_arn = topic.arn
        self._alarm_resources: dict[str, aws.cloudwatch.MetricAlarm] = {}
        # Alarms validate their actions; the topic policy must let CloudWatch publish first.
        self._alarm_opts = pulumi.ResourceOptions(parent=self, depends_on=[topic_policy])
        self._alarms()
        budget = self._budget(topic, topic_policy)

        self.topic_arn = topic.arn
        self.key_arn = key.arn
        self.alarm_names = {label: alarm.name for label, alarm in self._alarm_resources.items()}
        self.budget_name = budget.name
        self.dashboard_name = self.dashboard_url = None
        if config.monitoring.dashboard:
            dashboard = self._dashboard()
            self.dashboard_name = dashboard.dashboard_name
            self.dashboard_url = dashboard.dashboard_name.apply(
                lambda dashboard_name: (
                    f"https://{config.region}.console.aws.amazon.com/cloudwatch/home"
                    f"?region={config.region}#dashboards/dashboard/{dashboard_name}"
                )
            )
        if not config.monitoring.alert_emails:
            pulumi.log.warn(
                "monitoring.alertEmails is empty: alarms and budget notifications reach the alert topic, "
                "which nobody is subscribed to (see docs/monitoring.md)",
                resource=self,
            )
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "key_arn": self.key_arn,
                "alarm_names": self.alarm_names,
                "dashboard_name": self.dashboard_name,
                "dashboard_url": self.dashboard_url,
                "budget_name": self.budget_name,
            }
        )

    # -- topic ---------------------------------------------------------------
    def _key(self) -> aws.kms.Key:
        root = f"arn:{self._aws.partition}:iam::{self._aws.account}:root"
        return aws.kms.Key(
            f"{self._name}-alerts",
            description=f"{self._name}: encrypts the alert topic",
            enable_key_rotation=True,
            # It protects only alerts in transit: a destroyed stack has no reason to keep it 30 days.
            deletion_window_in_days=7,
            # In a key policy "Resource": "*" means this key and nothing else.
            policy=policy_document(
                {
                    "Sid": "AccountAdministersKey",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                # Unconditioned on purpose: the key encrypts nothing but this topic, whose policy
                # admits only this account's alarms and budgets; a source condition the service
                # does not send on its KMS call would drop every notification without an error.
                {
                    "Sid": "AlarmsAndBudgetsPublishEncrypted",
                    "Effect": "Allow",
                    "Principal": {"Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]},
                    "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                    "Resource": "*",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _topic(self, key: aws.kms.Key) -> tuple[aws.sns.Topic, aws.sns.TopicPolicy]:
        topic = aws.sns.Topic(
            f"{self._name}-alerts",
            name=physical_name(self._name, "sns", "alerts"),
            display_name=f"{self._name} alerts",
            kms_master_key_id=key.arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        region, account, partition = self._config.region, self._aws.account, self._aws.partition
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
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"},
                    },
                },
                {
                    "Sid": "BudgetsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "budgets.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic.arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:{partition}:budgets::{account}:*"},
                    },
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for email in self._config.monitoring.alert_emails:
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
    def _alarms(self) -> None:
        args = self._args
        # Zero-scale keeps the alarms that report lost work or failed requests and nothing else:
        # each alarm metric costs $0.10 a month and this topology's budget is $10.
        everything = self._config.is_standard
        if everything:
            for label, service in (("api", args.api_service_name), ("worker", args.worker_service_name)):
                if service is not None:
                    self._ecs_cpu_alarm(label, service)
            self._queue_alarms()
        self._dead_letter_alarm(
            "dlq-not-empty",
            args.dlq_name,
            "A message failed every attempt and was dead-lettered; its work is not done.",
            "Read the message and the worker logs for its id, fix the cause, then redrive the "
            "dead-letter queue to the work queue (SQS console: Start DLQ redrive).",
        )
        if args.scheduler_failure_queue_name is not None:
            self._dead_letter_alarm(
                "scheduler-dlq-not-empty",
                args.scheduler_failure_queue_name,
                "A scheduler tick failed after its retries or could not be invoked; its work was not enqueued.",
                "Read the failed event in the queue and the scheduler's logs; the next tick usually "
                "catches up, then purge the queue.",
            )
        if everything and args.load_balancer_arn_suffix is not None:
            self._alb_alarms()
        if everything and args.db_instance_identifier is not None:
            self._database_alarms()
        if args.scheduler_function_name is not None:
            self._scheduler_alarms(throttles=everything)
        if args.pipe_name is not None:
            self._pipe_alarm()
        if args.state_machine_arn is not None:
            self._state_machine_alarm()
        if args.http_api_id is not None:
            self._http_api_alarm()
        if args.api_function_name is not None:
            self._api_function_throttle_alarm()

    def _alarm(
        self,
        key: str,
        *,
        severity: str,
        summary: str,
        runbook: str,
        comparison: str,
        threshold: float,
        evaluation_periods: int,
        treat_missing_data: str,
        metric: _Metric | None = None,
        statistic: str | None = None,
        extended_statistic: str | None = None,
        queries: list[aws.cloudwatch.MetricAlarmMetricQueryArgs] | None = None,
        period: int = PERIOD_SECONDS,
        evaluate_low_sample_count_percentiles: str | None = None,
    ) -> aws.cloudwatch.MetricAlarm:
        single = {}
        if metric is not None:
            single = {
                "namespace": metric.namespace,
                "metric_name": metric.name,
                "dimensions": metric.dimensions,
                "statistic": statistic,
                "extended_statistic": extended_statistic,
                "evaluate_low_sample_count_percentiles": evaluate_low_sample_count_percentiles,
                "period": period,
            }
        alarm = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{key}",
            name=physical_name(self._name, "alarm", key),
            alarm_description=f"{severity.upper()}: {summary} Runbook: {runbook} (docs/monitoring.md, {key})",
            comparison_operator=comparison,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            treat_missing_data=treat_missing_data,
            metric_queries=queries,
            alarm_actions=[self._topic_arn],
            ok_actions=[self._topic_arn],
            opts=self._alarm_opts,
            **single,
        )
        self._alarm_resources[key] = alarm
        return alarm

    def _ecs_cpu_alarm(self, label: str, service: pulumi.Input[str]) -> None:
        self._alarm(
            f"{label}-cpu-high",
            severity="warning",
            summary=f"The {label} service averaged above {CPU_PERCENT}% CPU for 10 minutes.",
            runbook=(
                "Check whether autoscaling is at its maximum and what the tasks are doing; raise the "
                f"{label} cpu or maxCount in the stack config if the load is real."
            ),
            metric=_Metric("AWS/ECS", "CPUUtilization", self._service_dimensions(service)),
            statistic="Average",
            comparison="GreaterThanThreshold",
            threshold=CPU_PERCENT,
            evaluation_periods=2,
            # ECS publishes nothing for a service with no running task (the worker at zero): idle is fine.
            treat_missing_data=NOT_BREACHING,
        )

    def _queue_alarms(self) -> None:
        queue = {"QueueName": self._args.queue_name}
        # SQS stops publishing a queue's metrics after six hours without activity, with messages
        # in it or not: keeping the last state neither clears a real backlog nor alarms on quiet.
        for key, severity, messages, periods in (
            ("queue-backlog-warning", "warning", BACKLOG_WARNING_MESSAGES, 3),
            ("queue-backlog-critical", "critical", BACKLOG_CRITICAL_MESSAGES, 2),
        ):
            self._alarm(
                key,
                severity=severity,
                summary=f"More than {messages} messages have waited in the work queue for {periods * 5} minutes.",
                runbook=(
                    "Check that worker tasks are running and not failing (ECS service events, worker logs) "
                    "and whether the worker is at worker.maxCount; raise it if the load is real."
                ),
                metric=_Metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue),
                statistic="Maximum",
                comparison="GreaterThanThreshold",
                threshold=messages,
                evaluation_periods=periods,
                treat_missing_data=IGNORE,
            )
        bound = self._config.monitoring.oldest_message_age_seconds
        self._alarm(
            "queue-oldest-message-age",
            severity="critical",
            summary=f"The oldest message in the work queue is older than {bound} seconds: work is stuck.",
            runbook=(
                "Check that the worker scaled out from zero (backlog alarms, ECS service events) and that "
                "tasks are not crash-looping; a poison message cycles until maxReceiveCount."
            ),
            metric=_Metric("AWS/SQS", "ApproximateAgeOfOldestMessage", queue),
            statistic="Maximum",
            comparison="GreaterThanThreshold",
            threshold=bound,
            evaluation_periods=1,
            treat_missing_data=IGNORE,
        )

    def _dead_letter_alarm(self, key: str, queue_name: pulumi.Input[str], summary: str, runbook: str) -> None:
        self._alarm(
            key,
            severity="critical",
            summary=summary,
            runbook=runbook,
            metric=_Metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue_name}),
            statistic="Maximum",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
            evaluation_periods=1,
            # A dead-letter queue nobody touches goes quiet after six hours with its messages still
            # in it: notBreaching would then send an OK that is not true. Keep the last state.
            treat_missing_data=IGNORE,
        )

    def _alb_alarms(self) -> None:
        args = self._args
        for key, severity, percent, periods in (
            ("api-5xx-rate-warning", "warning", ERROR_RATE_WARNING_PERCENT, 3),
            ("api-5xx-rate-critical", "critical", ERROR_RATE_CRITICAL_PERCENT, 1),
        ):
            self._alarm(
                key,
                severity=severity,
                summary=(
                    f"More than {percent}% of API requests returned 5xx (targets and load balancer) "
                    f"for {periods * 5} minutes."
                ),
                runbook=(
                    "Read the api logs for the errors; if a deploy just happened, roll back by setting the "
                    "previous imageTag; check the database alarms."
                ),
                queries=self._error_rate_queries(),
                comparison="GreaterThanThreshold",
                threshold=percent,
                evaluation_periods=periods,
                # No requests, no 5xx counts: a quiet API is a healthy one.
                treat_missing_data=NOT_BREACHING,
            )
        if args.target_group_arn_suffix is None:
            return
        target = self._target_dimensions()
        self._alarm(
            "api-p95-latency",
            severity="warning",
            summary=f"The slowest 5% of API requests took longer than {LATENCY_P95_SECONDS} s for 10 minutes.",
            runbook="Check api CPU, database CPU and connections, and slow statements in the postgresql log.",
            metric=_Metric("AWS/ApplicationELB", "TargetResponseTime", target),
            extended_statistic="p95",
            comparison="GreaterThanThreshold",
            threshold=LATENCY_P95_SECONDS,
            evaluation_periods=2,
            treat_missing_data=NOT_BREACHING,
            # A p95 of a handful of requests is one slow request: keep the state until there are enough.
            evaluate_low_sample_count_percentiles="ignore",
        )
        if not self._config.image_tag:
            # Until imageTag is set the API runs no task by design: "no healthy target" is expected.
            return
        self._alarm(
            "api-no-healthy-targets",
            severity="critical",
            summary="The load balancer has had no healthy API task for 3 minutes: the API is down.",
            runbook=(
                "Read the api service's events and stopped-task reasons (image pull, health check on "
                "/health, crash); the deployment circuit breaker rolls back a bad deploy by itself."
            ),
            metric=_Metric("AWS/ApplicationELB", "HealthyHostCount", target),
            statistic="Minimum",
            comparison="LessThanThreshold",
            threshold=1,
            evaluation_periods=3,
            period=60,
            # The load balancer reports its targets every minute; silence means it cannot.
            treat_missing_data=BREACHING,
        )

    def _error_rate_queries(self) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgs]:
        load_balancer = self._load_balancer_dimensions()
        return [
            _sum_query("requests", "AWS/ApplicationELB", "RequestCount", load_balancer),
            _sum_query("target5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", load_balancer),
            _sum_query("elb5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", load_balancer),
            *(
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=query_id, expression=expression, label=label, return_data=returned
                )
                for query_id, expression, label, returned in ERROR_RATE_EXPRESSIONS
            ),
        ]

    def _database_alarms(self) -> None:
        args = self._args
        database = {"DBInstanceIdentifier": args.db_instance_identifier}
        self._alarm(
            "db-cpu-high",
            severity="warning",
            summary=f"The database averaged above {CPU_PERCENT}% CPU for 10 minutes.",
            runbook=(
                "Find the expensive statements (Performance Insights where on, else the slow-statement log); "
                "raise database.instanceClass if the load is real."
            ),
            metric=_Metric("AWS/RDS", "CPUUtilization", database),
            statistic="Average",
            comparison="GreaterThanThreshold",
            threshold=CPU_PERCENT,
            evaluation_periods=2,
            # RDS reports every minute while the instance runs; silence means it is stopped or down.
            treat_missing_data=BREACHING,
        )
        self._alarm(
            "db-free-storage-low",
            severity="critical",
            summary=(
                f"The database has less than 10% of its configured {args.db_allocated_storage_gb} GB of storage free."
            ),
            runbook=(
                "Storage autoscaling acts at the same 10% mark: if the alarm stays, the volume is at "
                "maxAllocatedStorageGb or in its 6-hour cool-down; raise maxAllocatedStorageGb or free space."
            ),
            metric=_Metric("AWS/RDS", "FreeStorageSpace", database),
            statistic="Minimum",
            comparison="LessThanThreshold",
            threshold=free_storage_threshold_bytes(args.db_allocated_storage_gb),
            evaluation_periods=1,
            # db-cpu-high already reports a silent database; this one goes INSUFFICIENT_DATA instead of paging twice.
            treat_missing_data=MISSING,
        )
        self._alarm(
            "db-freeable-memory-low",
            severity="warning",
            summary="The database has had less than 64 MiB of freeable memory for 10 minutes.",
            runbook="Check connection count (each backend costs memory) and raise database.instanceClass if it persists.",
            metric=_Metric("AWS/RDS", "FreeableMemory", database),
            statistic="Average",
            comparison="LessThanThreshold",
            threshold=FREEABLE_MEMORY_BYTES,
            evaluation_periods=2,
            treat_missing_data=MISSING,
        )

    def _scheduler_alarms(self, *, throttles: bool) -> None:
        function = {"FunctionName": self._args.scheduler_function_name}
        checks = [
            ("scheduler-errors", "Errors", "A scheduler run failed.", "Read the scheduler's log group for the error.")
        ]
        if throttles:
            checks.append(
                (
                    "scheduler-throttles",
                    "Throttles",
                    "A scheduler run was throttled: the previous run was still going (concurrency 1).",
                    "Read the scheduler's Duration; a run close to its timeout needs less work per tick or a longer schedule.",
                )
            )
        for key, metric_name, summary, runbook in checks:
            self._alarm(
                key,
                severity="warning",
                summary=summary,
                runbook=runbook,
                metric=_Metric("AWS/Lambda", metric_name, function),
                statistic="Sum",
                comparison="GreaterThanOrEqualToThreshold",
                threshold=1,
                evaluation_periods=1,
                # Lambda publishes only for periods with invocations.
                treat_missing_data=NOT_BREACHING,
            )

    def _pipe_alarm(self) -> None:
        self._alarm(
            "worker-pipe-failures",
            severity="critical",
            summary="The worker pipe failed to hand a message to the worker state machine.",
            runbook=(
                "Read the pipe's log group (/aws/vendedlogs/pipes/...); the message stays in the queue and "
                "is retried until maxReceiveCount, then dead-lettered."
            ),
            metric=_Metric("AWS/EventBridge/Pipes", "ExecutionFailed", {"PipeName": self._args.pipe_name}),
            statistic="Sum",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
            evaluation_periods=1,
            # Pipes publish only while they run executions.
            treat_missing_data=NOT_BREACHING,
        )

    def _state_machine_alarm(self) -> None:
        machine = {"StateMachineArn": self._args.state_machine_arn}
        queries = [
            _sum_query(query_id, "AWS/States", metric_name, machine)
            for query_id, metric_name in (
                ("failed", "ExecutionsFailed"),
                ("timedout", "ExecutionsTimedOut"),
                ("aborted", "ExecutionsAborted"),
            )
        ]
        queries.append(
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="unfinished",
                expression="FILL(failed, 0) + FILL(timedout, 0) + FILL(aborted, 0)",
                label="Worker runs failed, timed out or aborted",
                return_data=True,
            )
        )
        self._alarm(
            "worker-run-failures",
            severity="critical",
            summary="A worker run (one message) failed, timed out or was aborted.",
            runbook=(
                "Open the execution in Step Functions: WorkerFailed means every attempt failed and the "
                "message is in the dead-letter queue; a timeout or abort may have lost the message."
            ),
            queries=queries,
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
            evaluation_periods=1,
            treat_missing_data=NOT_BREACHING,
        )

    def _http_api_alarm(self) -> None:
        self._alarm(
            "api-5xx",
            severity="critical",
            summary=f"The HTTP API returned {HTTP_API_5XX_COUNT} or more 5xx responses in 5 minutes.",
            runbook=(
                f"Read the access log /flowbuilder/{self._config.stack}/http-api/access (integrationError, "
                "integrationStatus) and the api function's log for the integrationRequestId; after a deploy, "
                "roll back by setting the previous imageTag."
            ),
            metric=_Metric("AWS/ApiGateway", "5xx", {"ApiId": self._args.http_api_id, "Stage": HTTP_API_STAGE}),
            statistic="Sum",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=HTTP_API_5XX_COUNT,
            evaluation_periods=1,
            # API Gateway publishes only for periods with requests: a quiet API is a healthy one.
            treat_missing_data=NOT_BREACHING,
        )

    def _api_function_throttle_alarm(self) -> None:
        concurrency = self._config.api.lambda_reserved_concurrency
        self._alarm(
            "api-throttles",
            severity="warning",
            summary=(
                f"API requests were throttled: more than {concurrency} ran at once (the function's reserved "
                "concurrency), and the callers got errors."
            ),
            runbook=(
                "Check the function's Duration and ConcurrentExecutions; if the load is real, raise "
                "api.lambdaReservedConcurrency, else find what holds requests open (database, queue)."
            ),
            metric=_Metric("AWS/Lambda", "Throttles", {"FunctionName": self._args.api_function_name}),
            statistic="Sum",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
            evaluation_periods=1,
            # Lambda publishes only for periods with invocations.
            treat_missing_data=NOT_BREACHING,
        )

    # -- budget --------------------------------------------------------------
    def _budget(self, topic: aws.sns.Topic, topic_policy: aws.sns.TopicPolicy) -> aws.budgets.Budget:
        config = self._config

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
            name=physical_name(self._name, "budget", "monthly"),
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{config.monitoring.monthly_budget_usd:.1f}",
            limit_unit="USD",
            # Every resource carries the stack tag through the provider's default tags; Billing must
            # have it activated as a cost-allocation tag for the filter to see any cost.
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[cost_allocation_filter(config.stack)])
            ],
            notifications=[notification(80, "ACTUAL"), notification(100, "FORECASTED")],
            # Budgets checks it may publish to the topic when the notification is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[topic_policy]),
        )

    # -- dashboard -----------------------------------------------------------
    def _dashboard(self) -> aws.cloudwatch.Dashboard:
        widgets: list[dict[str, Any]] = [
            {
                "type": "alarm",
                "width": 24,
                "height": 3,
                "properties": {"title": "Alarms", "alarms": [alarm.arn for alarm in self._alarm_resources.values()]},
            }
        ]
        widgets += self._ecs_widgets() + self._queue_widgets() + self._alb_widgets() + self._database_widgets()
        widgets += self._scheduler_widgets() + self._pipe_widgets()
        return aws.cloudwatch.Dashboard(
            f"{self._name}-overview",
            dashboard_name=physical_name(self._name, "dashboard", "overview"),
            dashboard_body=pulumi.Output.json_dumps({"widgets": widgets}),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _graph(
        self,
        title: str,
        metrics: list[list[Any]],
        *,
        stat: str = "Average",
        threshold: float | None = None,
        width: int = 8,
        label: str | None = None,
    ) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "title": title,
            "view": "timeSeries",
            "region": self._config.region,
            "stat": stat,
            "period": 60,
            "metrics": metrics,
        }
        if threshold is not None:
            properties["annotations"] = {"horizontal": [{"label": label or "alarm", "value": threshold}]}
        return {"type": "metric", "width": width, "height": 6, "properties": properties}

    def _ecs_widgets(self) -> list[dict[str, Any]]:
        args = self._args
        services = [
            (label, s) for label, s in (("api", args.api_service_name), ("worker", args.worker_service_name)) if s
        ]
        widgets = [
            self._graph(
                f"{label}: CPU and memory (%)",
                [
                    _series("AWS/ECS", "CPUUtilization", self._service_dimensions(service), label="CPU"),
                    _series("AWS/ECS", "MemoryUtilization", self._service_dimensions(service), label="memory"),
                ],
                threshold=CPU_PERCENT,
                label="CPU alarm",
            )
            for label, service in services
        ]
        if services and self._config.ecs.container_insights:
            widgets.append(
                self._graph(
                    "Running tasks (Container Insights)",
                    [
                        _series("ECS/ContainerInsights", "RunningTaskCount", self._service_dimensions(s), label=label)
                        for label, s in services
                    ],
                    stat="Maximum",
                )
            )
        if args.backlog_metric_namespace:
            # Without Container Insights ECS publishes no task count; the worker's backlog sampler
            # is the closest signal of whether it keeps up.
            worker = self._service_dimensions(args.worker_service_name)
            widgets.append(
                self._graph(
                    "Worker backlog (sampler)",
                    [
                        _series(args.backlog_metric_namespace, metric, worker, label=metric)
                        for metric in BACKLOG_METRICS
                    ],
                    stat="Maximum",
                )
            )
        return widgets

    def _queue_widgets(self) -> list[dict[str, Any]]:
        args = self._args
        queue = {"QueueName": args.queue_name}
        dead_letters = [
            _series("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": args.dlq_name}, label="work DLQ")
        ]
        if args.scheduler_failure_queue_name is not None:
            dead_letters.append(
                _series(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": args.scheduler_failure_queue_name},
                    label="scheduler failures",
                )
            )
        return [
            self._graph(
                "Work queue: messages",
                [
                    _series("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, label="visible"),
                    _series("AWS/SQS", "ApproximateNumberOfMessagesNotVisible", queue, label="in flight"),
                ],
                stat="Maximum",
                threshold=BACKLOG_WARNING_MESSAGES,
                label="backlog warning",
            ),
            self._graph(
                "Work queue: age of oldest message (s)",
                [_series("AWS/SQS", "ApproximateAgeOfOldestMessage", queue, label="oldest")],
                stat="Maximum",
                threshold=self._config.monitoring.oldest_message_age_seconds,
            ),
            self._graph("Dead-letter queues: messages", dead_letters, stat="Maximum", threshold=1),
        ]

    def _alb_widgets(self) -> list[dict[str, Any]]:
        args = self._args
        if args.load_balancer_arn_suffix is None:
            return []
        balancer = self._load_balancer_dimensions()
        widgets = [
            self._graph(
                "API: requests and 5xx",
                [
                    _series("AWS/ApplicationELB", "RequestCount", balancer, label="requests"),
                    _series("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", balancer, label="target 5xx"),
                    _series("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", balancer, label="load balancer 5xx"),
                ],
                stat="Sum",
            ),
            self._graph(
                "API: 5xx rate (%)",
                [
                    _series("AWS/ApplicationELB", "RequestCount", balancer, id="requests", visible=False),
                    _series("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", balancer, id="target5xx", visible=False),
                    _series("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", balancer, id="elb5xx", visible=False),
                    *(
                        [{"expression": expression, "id": query_id, "label": label, "visible": returned}]
                        for query_id, expression, label, returned in ERROR_RATE_EXPRESSIONS
                    ),
                ],
                stat="Sum",
                threshold=ERROR_RATE_WARNING_PERCENT,
                label="warning",
            ),
        ]
        if args.target_group_arn_suffix is not None:
            target = self._target_dimensions()
            widgets += [
                self._graph(
                    "API: target response time p95 (s)",
                    [_series("AWS/ApplicationELB", "TargetResponseTime", target, label="p95")],
                    stat="p95",
                    threshold=LATENCY_P95_SECONDS,
                ),
                self._graph(
                    "API: healthy and unhealthy targets",
                    [
                        _series("AWS/ApplicationELB", "HealthyHostCount", target, label="healthy"),
                        _series("AWS/ApplicationELB", "UnHealthyHostCount", target, label="unhealthy"),
                    ],
                    stat="Minimum",
                ),
            ]
        return widgets

    def _database_widgets(self) -> list[dict[str, Any]]:
        args = self._args
        if args.db_instance_identifier is None:
            return []
        database = {"DBInstanceIdentifier": args.db_instance_identifier}
        return [
            self._graph(
                "Database: CPU (%)",
                [_series("AWS/RDS", "CPUUtilization", database, label="CPU")],
                threshold=CPU_PERCENT,
            ),
            self._graph(
                "Database: connections",
                [_series("AWS/RDS", "DatabaseConnections", database, label="connections")],
                stat="Maximum",
            ),
            self._graph(
                "Database: free storage (bytes)",
                [_series("AWS/RDS", "FreeStorageSpace", database, label="free")],
                stat="Minimum",
                threshold=free_storage_threshold_bytes(args.db_allocated_storage_gb),
            ),
            self._graph(
                "Database: freeable memory (bytes)",
                [_series("AWS/RDS", "FreeableMemory", database, label="freeable")],
                stat="Minimum",
                threshold=FREEABLE_MEMORY_BYTES,
            ),
        ]

    def _scheduler_widgets(self) -> list[dict[str, Any]]:
        name = self._args.scheduler_function_name
        if name is None:
            return []
        function = {"FunctionName": name}
        return [
            self._graph(
                "Scheduler: invocations, errors, throttles",
                [
                    _series("AWS/Lambda", "Invocations", function, label="invocations"),
                    _series("AWS/Lambda", "Errors", function, label="errors"),
                    _series("AWS/Lambda", "Throttles", function, label="throttles"),
                ],
                stat="Sum",
            ),
            self._graph(
                "Scheduler: duration (ms)",
                [
                    _series("AWS/Lambda", "Duration", function, label="p95", stat="p95"),
                    _series("AWS/Lambda", "Duration", function, label="max", stat="Maximum"),
                ],
                threshold=self._config.scheduler.timeout_seconds * 1000,
                label="timeout",
            ),
        ]

    def _pipe_widgets(self) -> list[dict[str, Any]]:
        args = self._args
        widgets = []
        if args.pipe_name is not None:
            pipe = {"PipeName": args.pipe_name}
            widgets.append(
                self._graph(
                    "Worker pipe: executions",
                    [
                        _series("AWS/EventBridge/Pipes", "Invocations", pipe, label="invocations"),
                        _series("AWS/EventBridge/Pipes", "ExecutionFailed", pipe, label="failed"),
                        _series("AWS/EventBridge/Pipes", "TargetStageFailed", pipe, label="target stage failed"),
                        _series("AWS/EventBridge/Pipes", "ExecutionThrottled", pipe, label="throttled"),
                    ],
                    stat="Sum",
                )
            )
        if args.state_machine_arn is not None:
            machine = {"StateMachineArn": args.state_machine_arn}
            widgets.append(
                self._graph(
                    "Worker runs (Step Functions)",
                    [
                        _series("AWS/States", metric, machine, label=label)
                        for metric, label in (
                            ("ExecutionsStarted", "started"),
                            ("ExecutionsSucceeded", "succeeded"),
                            ("ExecutionsFailed", "failed"),
                            ("ExecutionsTimedOut", "timed out"),
                            ("ExecutionsAborted", "aborted"),
                        )
                    ],
                    stat="Sum",
                )
            )
        return widgets

    # -- dimensions ----------------------------------------------------------
    def _service_dimensions(self, service: pulumi.Input[str] | None) -> dict[str, pulumi.Input[str]]:
        return {"ClusterName": self._args.cluster_name, "ServiceName": service}

    def _load_balancer_dimensions(self) -> dict[str, pulumi.Input[str]]:
        return {"LoadBalancer": self._args.load_balancer_arn_suffix}

    def _target_dimensions(self) -> dict[str, pulumi.Input[str]]:
        return {"LoadBalancer": self._args.load_balancer_arn_suffix, "TargetGroup": self._args.target_group_arn_suffix}


def free_storage_threshold_bytes(allocated_storage_gb: int) -> float:
    """10% of the configured allocation in bytes (RDS sizes storage in GiB)."""
    return allocated_storage_gb * GIB * FREE_STORAGE_FRACTION


def cost_allocation_filter(stack: str) -> str:
    """The Budgets ``TagKeyValue`` filter value for the ``stack`` user tag."""
    return f"user:stack${stack}"


def _sum_query(
    query_id: str, namespace: str, metric_name: str, dimensions: dict[str, pulumi.Input[str]]
) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    """One alarm query term: a metric's sum per alarm period, an input to an expression rather than the alarm's value."""
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query_id,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace, metric_name=metric_name, dimensions=dimensions, stat="Sum", period=PERIOD_SECONDS
        ),
        return_data=False,
    )


def _series(namespace: str, metric: str, dimensions: dict[str, pulumi.Input[str]], **options: Any) -> list[Any]:
    """One dashboard metric line: namespace, name, dimension name/value pairs, rendering options."""
    line: list[Any] = [namespace, metric]
    for dimension, value in dimensions.items():
        line += [dimension, value]
    return [*line, options] if options else line
