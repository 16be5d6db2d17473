"""EcsCluster: the standard topology's Fargate cluster, the API behind its ALB, and the queue worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig import Environment, StackConfig, physical_name

from .iam import policy_document, service_trust_policy, statement
from .lambda_image import function_log_group, function_role
from .queues import encrypted_queue

BACKLOG_NAMESPACE = "Flowbuilder/Worker"
"""CloudWatch namespace of the backlog function's metrics (dimensions ClusterName, ServiceName)."""
BACKLOG_METRICS = ("QueueBacklog", "BacklogPerTask", "BacklogWithNoTasks", "TasksWithNoBacklog")
BACKLOG_FUNCTION_SOURCE = Path(__file__).parent / "functions" / "queue_backlog.py"

# TLS 1.3 and 1.2 only; the ELB policy AWS recommends for new HTTPS listeners.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HEALTHY_THRESHOLD = 5
UNHEALTHY_THRESHOLD = 2
HEALTH_CHECK_INTERVAL_SECONDS = 30
HEALTH_CHECK_TIMEOUT_SECONDS = 5
HEALTH_CHECK_GRACE_SECONDS = 60
# ECS's default of 300 s holds every deploy for five minutes per task.
DEREGISTRATION_DELAY_SECONDS = 60
API_SCALING_TARGET_PERCENT = 70
SCALE_IN_COOLDOWN_SECONDS = 300
SCALE_OUT_COOLDOWN_SECONDS = 60

# The tag task definitions name while `imageTag` is unset. No task ever pulls it:
# both services stay at 0 tasks and their scaling is capped at 0 until the tag is set.
IMAGE_TAG_PLACEHOLDER = "imagetag-not-set"
SCRATCH_VOLUME = ("scratch", "/tmp")
# ECS Exec's agent writes its state and logs under these paths and crashes on a
# read-only root filesystem unless they are writable volumes (containers-roadmap#1359).
EXEC_AGENT_VOLUMES = (("exec-agent-state", "/var/lib/amazon"), ("exec-agent-logs", "/var/log/amazon"))
ECS_EXEC_ACTIONS = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
]
ALB_LOG_PREFIX = "alb"

# Regions opened before August 2022 deliver ALB access logs from a regional ELB
# account; regions opened since accept only the
# logdelivery.elasticloadbalancing.amazonaws.com service principal. The bucket
# policy grants both where the region has an ELB account, the principal alone
# elsewhere. Source: ELB user guide, "Enable access logs for your ALB", step 2.
ELB_LOG_DELIVERY_ACCOUNTS: dict[str, str] = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
}
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


def secret_resource(value_from: str) -> str:
    """The secret ARN an ECS ``valueFrom`` reads: ``arn:...:secret:name-AbCdEf`` without ``:key:stage:id``."""
    return ":".join(value_from.split(":")[:7])


def alb_log_bucket_policy(bucket_arn: pulumi.Input[str], account: str, region: str) -> pulumi.Output[str]:
    """Bucket policy letting Elastic Load Balancing write this account's ALB logs, and nothing over plain HTTP."""
    objects = pulumi.Output.concat(bucket_arn, f"/{ALB_LOG_PREFIX}/AWSLogs/{account}/*")
    statements: list[dict[str, Any]] = [
        {
            "Sid": "LogDeliveryService",
            "Effect": "Allow",
            "Principal": {"Service": ELB_LOG_DELIVERY_SERVICE},
            "Action": "s3:PutObject",
            "Resource": objects,
        }
    ]
    if region in ELB_LOG_DELIVERY_ACCOUNTS:
        statements.append(
            {
                "Sid": "RegionalElbAccount",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ELB_LOG_DELIVERY_ACCOUNTS[region]}:root"},
                "Action": "s3:PutObject",
                "Resource": objects,
            }
        )
    statements.append(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements})


@dataclass
class EcsClusterArgs:
    """Inputs of :class:`EcsCluster`: the config and what Networking, WorkQueue, ContainerRegistry and Database expose."""

    config: StackConfig
    vpc_id: pulumi.Input[str]
    public_subnet_ids: pulumi.Input[list[str]]
    private_subnet_ids: pulumi.Input[list[str]]
    security_group_ids: dict[str, pulumi.Input[str]]
    """Networking's groups; ``alb``, ``api`` and ``worker`` are used."""
    queue_url: pulumi.Input[str]
    queue_arn: pulumi.Input[str]
    repository_urls: dict[str, pulumi.Input[str]]
    repository_arns: dict[str, pulumi.Input[str]]
    database_secret_arn: pulumi.Input[str]
    """The secret the execution role may read (the RDS-managed master secret)."""
    database_environment: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plain connection settings (host, port, name); never a credential."""
    database_secrets: list[dict[str, pulumi.Input[str]]] = field(default_factory=list)
    """ECS ``secrets`` entries (``name``/``valueFrom``) carrying the credentials."""


class EcsCluster(pulumi.ComponentResource):
    """The standard topology's containers: cluster, API service behind an ALB, queue worker.

    Creates:

    * cluster ``<name>-cluster`` with Container Insights per ``ecs.containerInsights`` (prod on;
      its performance log group declared with ``logRetentionDays``),
      capacity providers FARGATE and FARGATE_SPOT, default strategy from ``worker.onDemandWeight`` /
      ``worker.spotWeight`` (dev all Spot, staging and prod 3 Spot : 1 on-demand);
    * log groups ``/flowbuilder/<stack>/ecs/api`` and ``/ecs/worker`` kept ``logRetentionDays``;
    * one task execution role (pull from the api and worker repositories, write those two log
      groups, read exactly the secrets injected) and one task role per service (API:
      ``sqs:SendMessage``; worker: receive, delete, change visibility, get attributes; both on the
      work queue only);
    * task definitions ``<name>-api`` / ``<name>-worker`` on ``ecs.architecture`` (ARM64), read-only
      root filesystem, a writable scratch volume at /tmp, not privileged, awslogs, credentials only as
      ECS ``secrets`` (database user and password, ``ecs.applicationSecrets``), plain environment for
      the rest; image ``<repository>:<imageTag>``; worker ``stopTimeout`` ``worker.stopTimeoutSeconds`` (120);
    * an internet-facing ALB ``<name>-api`` in the public subnets (invalid headers dropped; prod:
      deletion protection and access logs to an SSE-S3 bucket), target group type ip on
      ``api.containerPort`` (8080) checking ``GET /health`` (healthy 5, unhealthy 2, every 30 s, 5 s
      timeout, 200) with a 60 s deregistration delay; with ``api.certificateArn`` an HTTPS listener
      (TLS 1.2+) and an HTTP -> HTTPS redirect, without one a plain HTTP listener;
    * the API service in the private subnets, no public IP, circuit breaker with rollback, 60 s
      health-check grace, min healthy 100 % / max 200 %, desired-count drift ignored, CPU and memory
      target tracking at 70 % between ``api.minCount`` and ``api.maxCount``;
    * the worker service at 0 tasks, and its scaling: the Lambda ``<name>-queue-backlog`` (inline
      Python, arm64, 128 MB, concurrency 1, X-Ray, failures to ``<name>-backlog-dlq``), run every
      minute, samples the queue every ``worker.backlogSampleSeconds`` (20) and publishes metrics to
      ``Flowbuilder/Worker``; a step policy sets 1 task when messages wait and none is wanted; target
      tracking adds tasks toward ``worker.backlogPerTask`` (10) messages per task; a step policy
      returns to 0 once the queue (visible + in flight) has been empty for
      ``worker.scaleInAfterMinutes`` (15). None of it reads SQS's own CloudWatch metrics.

    While ``imageTag`` is unset both services keep 0 tasks and scaling is capped at 0, so a first
    ``pulumi up`` on an empty account succeeds before any image exists (see docs/ecs.md).
    """

    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    api_service_name: pulumi.Output[str]
    worker_service_name: pulumi.Output[str]
    alb_arn_suffix: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    alb_dns_name: pulumi.Output[str]
    api_url: pulumi.Output[str]
    api_endpoint_note: str
    log_group_names: dict[str, pulumi.Output[str]]
    """Keys ``api``, ``worker``, ``queue_backlog``."""
    backlog_metric: dict[str, Any]
    """``namespace``, ``dimensions`` and ``metrics`` of the worker's backlog metrics, for dashboards and alarms."""
    backlog_function_name: pulumi.Output[str]
    backlog_failure_queue_name: pulumi.Output[str]
    """Where failed backlog samples are recorded; not empty means the worker's scaling is blind."""
    images: dict[str, pulumi.Output[str]]
    """The image each service's task definition names."""
    awaiting_images: list[pulumi.Output[str]]
    """The api and worker repository URLs while no ``imageTag`` is set; empty once it is."""

    def __init__(self, name: str, args: EcsClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:EcsCluster", name, None, opts)
        self._name = name
        self._args = args
        self._config = args.config
        self._account = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self)).account_id
        self._names = {
            "cluster": physical_name(name, "ecs-cluster", "cluster"),
            "api": physical_name(name, "ecs-service", "api"),
            "worker": physical_name(name, "ecs-service", "worker"),
        }
        self.images = {"api": self._image("api"), "worker": self._image("worker")}
        self.awaiting_images = []
        if not self._config.image_tag:
            pulumi.log.warn(
                "imageTag is not set: the API and worker services are created with 0 tasks and scaling capped "
                "at 0 until images are pushed and imageTag is set (see the imagesToPush output)",
                resource=self,
            )
            self.awaiting_images = [
                pulumi.Output.from_input(args.repository_urls[image]) for image in ("api", "worker")
            ]

        self._create_cluster()
        self._create_log_groups()
        self._create_roles()
        self._create_load_balancer()
        self._create_api()
        self._create_worker()
        self._create_backlog_function()
        self._create_worker_scaling()

        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_arn": self.cluster_arn,
                "api_service_name": self.api_service_name,
                "worker_service_name": self.worker_service_name,
                "alb_arn_suffix": self.alb_arn_suffix,
                "target_group_arn_suffix": self.target_group_arn_suffix,
                "alb_dns_name": self.alb_dns_name,
                "api_url": self.api_url,
                "api_endpoint_note": self.api_endpoint_note,
                "log_group_names": self.log_group_names,
                "backlog_metric": self.backlog_metric,
                "backlog_function_name": self.backlog_function_name,
                "backlog_failure_queue_name": self.backlog_failure_queue_name,
                "images": self.images,
                "awaiting_images": self.awaiting_images,
            }
        )

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)

    # -- cluster -------------------------------------------------------------
    def _create_cluster(self) -> None:
        ecs = self._config.ecs
        # With Container Insights on, ECS writes performance events to this group and
        # would create it without a retention; declared first, it keeps the stack's.
        insights_logs = (
            [
                aws.cloudwatch.LogGroup(
                    f"{self._name}-container-insights",
                    name=f"/aws/ecs/containerinsights/{self._names['cluster']}/performance",
                    retention_in_days=self._config.log_retention_days,
                    opts=self._child(),
                )
            ]
            if ecs.container_insights
            else []
        )
        self._cluster = aws.ecs.Cluster(
            f"{self._name}-cluster",
            name=self._names["cluster"],
            settings=[
                aws.ecs.ClusterSettingArgs(
                    name="containerInsights", value="enabled" if ecs.container_insights else "disabled"
                )
            ],
            # Session output logging would need logs:DescribeLogGroups on "*" in every task
            # role; CloudTrail still records who ran ExecuteCommand against which container.
            configuration=aws.ecs.ClusterConfigurationArgs(
                execute_command_configuration=aws.ecs.ClusterConfigurationExecuteCommandConfigurationArgs(
                    logging="NONE"
                )
            ),
            opts=self._child(depends_on=insights_logs),
        )
        self._capacity_providers = aws.ecs.ClusterCapacityProviders(
            f"{self._name}-capacity-providers",
            cluster_name=self._cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategies=[
                aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(
                    capacity_provider=provider, weight=weight, base=0
                )
                for provider, weight in self._worker_weights()
            ],
            opts=self._child(),
        )
        self.cluster_name = self._cluster.name
        self.cluster_arn = self._cluster.arn

    def _worker_weights(self) -> list[tuple[str, int]]:
        worker = self._config.worker
        weights = [("FARGATE", worker.on_demand_weight), ("FARGATE_SPOT", worker.spot_weight)]
        return [(provider, weight) for provider, weight in weights if weight > 0]

    def _create_log_groups(self) -> None:
        self._log_groups = {
            service: aws.cloudwatch.LogGroup(
                f"{self._name}-{service}-logs",
                name=f"/flowbuilder/{self._config.stack}/ecs/{service}",
                retention_in_days=self._config.log_retention_days,
                opts=self._child(),
            )
            for service in ("api", "worker")
        }
        self.log_group_names = {service: group.name for service, group in self._log_groups.items()}

    # -- IAM -----------------------------------------------------------------
    def _injected_secrets(self) -> list[dict[str, pulumi.Input[str]]]:
        application = [
            {"name": variable, "valueFrom": reference}
            for variable, reference in sorted(self._config.ecs.application_secrets.items())
        ]
        return [*self._args.database_secrets, *application]

    def _create_roles(self) -> None:
        args = self._args
        self._execution_role = aws.iam.Role(
            f"{self._name}-execution",
            assume_role_policy=service_trust_policy("ecs-tasks.amazonaws.com", self._account),
            description="ECS task execution: pull the api and worker images, write their logs, read their secrets",
            opts=self._child(),
        )
        secret_arns = [args.database_secret_arn] + sorted(
            {secret_resource(reference) for reference in self._config.ecs.application_secrets.values()}
        )
        self._execution_policy = aws.iam.RolePolicy(
            f"{self._name}-execution",
            role=self._execution_role.id,
            policy=policy_document(
                # GetAuthorizationToken has no resource-level permissions; it only issues a
                # registry login, the pulls themselves are limited to the two repositories.
                statement(["ecr:GetAuthorizationToken"], "*", sid="RegistryLogin"),
                statement(
                    ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
                    [args.repository_arns["api"], args.repository_arns["worker"]],
                    sid="PullServiceImages",
                ),
                statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [group.arn.apply(lambda arn: f"{arn}:*") for group in self._log_groups.values()],
                    sid="WriteServiceLogs",
                ),
                statement(["secretsmanager:GetSecretValue"], secret_arns, sid="ReadInjectedSecrets"),
            ),
            opts=self._child(),
        )
        self._task_roles = {
            "api": self._task_role(
                "api",
                "API tasks: send work to the queue",
                statement(["sqs:SendMessage"], [args.queue_arn], sid="SendWork"),
            ),
            "worker": self._task_role(
                "worker",
                "Worker tasks: consume the work queue",
                statement(
                    [
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                        "sqs:GetQueueAttributes",
                    ],
                    [args.queue_arn],
                    sid="ConsumeWork",
                ),
            ),
        }

    def _task_role(self, service: str, description: str, grant: dict[str, Any]) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{self._name}-{service}-task",
            assume_role_policy=service_trust_policy("ecs-tasks.amazonaws.com", self._account),
            description=description,
            opts=self._child(),
        )
        aws.iam.RolePolicy(
            f"{self._name}-{service}-task", role=role.id, policy=policy_document(grant), opts=self._child()
        )
        if self._config.ecs.exec_enabled:
            # ECS Exec's Session Manager channels: ssmmessages has no resource types, so
            # "*" is the only resource AWS accepts. Present only while ecs.execEnabled.
            aws.iam.RolePolicy(
                f"{self._name}-{service}-exec",
                role=role.id,
                policy=policy_document(statement(ECS_EXEC_ACTIONS, "*", sid="EcsExecSessions")),
                opts=self._child(),
            )
        return role

    # -- load balancer -------------------------------------------------------
    def _create_load_balancer(self) -> None:
        config, args = self._config, self._args
        prod = config.environment is Environment.PROD
        access_logs, log_dependencies = None, []
        if prod:
            bucket, log_dependencies = self._access_log_bucket()
            access_logs = aws.lb.LoadBalancerAccessLogsArgs(bucket=bucket, prefix=ALB_LOG_PREFIX, enabled=True)
        self._alb = aws.lb.LoadBalancer(
            f"{self._name}-alb",
            name=physical_name(self._name, "alb", "api"),
            load_balancer_type="application",
            internal=False,
            security_groups=[args.security_group_ids["alb"]],
            subnets=args.public_subnet_ids,
            drop_invalid_header_fields=True,
            enable_deletion_protection=prod,
            access_logs=access_logs,
            opts=self._child(depends_on=log_dependencies),
        )
        api = config.api
        self._target_group = aws.lb.TargetGroup(
            f"{self._name}-api",
            name=physical_name(self._name, "target-group", "api"),
            target_type="ip",
            port=api.container_port,
            protocol="HTTP",
            vpc_id=args.vpc_id,
            deregistration_delay=DEREGISTRATION_DELAY_SECONDS,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                path=api.health_check_path,
                protocol="HTTP",
                port="traffic-port",
                matcher="200",
                healthy_threshold=HEALTHY_THRESHOLD,
                unhealthy_threshold=UNHEALTHY_THRESHOLD,
                interval=HEALTH_CHECK_INTERVAL_SECONDS,
                timeout=HEALTH_CHECK_TIMEOUT_SECONDS,
            ),
            opts=self._child(),
        )
        forward = aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=self._target_group.arn)
        if api.certificate_arn:
            self._listeners = [
                aws.lb.Listener(
                    f"{self._name}-https",
                    load_balancer_arn=self._alb.arn,
                    port=443,
                    protocol="HTTPS",
                    ssl_policy=TLS_POLICY,
                    certificate_arn=api.certificate_arn,
                    default_actions=[forward],
                    opts=self._child(),
                ),
                aws.lb.Listener(
                    f"{self._name}-http",
                    load_balancer_arn=self._alb.arn,
                    port=80,
                    protocol="HTTP",
                    default_actions=[
                        aws.lb.ListenerDefaultActionArgs(
                            type="redirect",
                            redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                                protocol="HTTPS", port="443", status_code="HTTP_301"
                            ),
                        )
                    ],
                    opts=self._child(),
                ),
            ]
            scheme = "https"
            self.api_endpoint_note = (
                "HTTPS (TLS 1.2+) with the configured certificate; HTTP redirects to HTTPS. Point the "
                "certificate's domain at albDnsName: the ALB's own name does not match the certificate."
            )
        else:
            self._listeners = [
                aws.lb.Listener(
                    f"{self._name}-http",
                    load_balancer_arn=self._alb.arn,
                    port=80,
                    protocol="HTTP",
                    default_actions=[forward],
                    opts=self._child(),
                )
            ]
            scheme = "http"
            self.api_endpoint_note = (
                "plain HTTP: no certificateArn configured. Set flowbuilder:api.certificateArn to an ACM "
                "certificate to serve HTTPS and redirect HTTP."
            )
        self.alb_dns_name = self._alb.dns_name
        self.api_url = pulumi.Output.concat(f"{scheme}://", self._alb.dns_name)
        self.alb_arn_suffix = self._alb.arn_suffix
        self.target_group_arn_suffix = self._target_group.arn_suffix

    def _access_log_bucket(self) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
        """An SSE-S3 bucket for ALB access logs (ALB delivers only to SSE-S3 buckets)."""
        bucket = aws.s3.Bucket(
            f"{self._name}-alb-logs",
            bucket=physical_name(self._name, "s3-bucket", f"alb-logs-{self._account}"),
            opts=self._child(),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{self._name}-alb-logs",
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._child(),
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{self._name}-alb-logs",
            bucket=bucket.bucket,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=self._child(),
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{self._name}-alb-logs",
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=self._child(),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{self._name}-alb-logs",
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=f"{ALB_LOG_PREFIX}/"),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=self._config.log_retention_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=1
                    ),
                )
            ],
            opts=self._child(),
        )
        policy = aws.s3.BucketPolicy(
            f"{self._name}-alb-logs",
            bucket=bucket.bucket,
            policy=alb_log_bucket_policy(bucket.arn, self._account, self._config.region),
            # S3 rejects a policy naming a principal while the public-access block is being set.
            opts=self._child(depends_on=[public_access]),
        )
        # ELB test-writes to the bucket when access logs are enabled: policy, ownership and
        # encryption must all be in place first.
        return bucket.bucket, [policy, ownership, encryption]

    # -- task definitions ----------------------------------------------------
    def _image(self, service: str) -> pulumi.Output[str]:
        tag = self._config.image_tag or IMAGE_TAG_PLACEHOLDER
        return pulumi.Output.concat(self._args.repository_urls[service], f":{tag}")

    def _environment(self, extra: dict[str, pulumi.Input[str]]) -> dict[str, pulumi.Input[str]]:
        return {
            **self._args.database_environment,
            "QUEUE_URL": self._args.queue_url,
            "AWS_REGION": self._config.region,
            "STACK": self._config.stack,
            **extra,
        }

    def _task_definition(
        self,
        service: str,
        size: Any,
        environment: dict[str, pulumi.Input[str]],
        container: dict[str, Any],
    ) -> aws.ecs.TaskDefinition:
        secrets = self._injected_secrets()
        names = [*environment, *(entry["name"] for entry in secrets)]
        clashes = sorted({variable for variable in names if names.count(variable) > 1})
        if clashes:
            raise ValueError(
                f"{', '.join(clashes)}: set twice in the {service} task; rename the entry in ecs.applicationSecrets"
            )
        volumes = [SCRATCH_VOLUME, *(EXEC_AGENT_VOLUMES if self._config.ecs.exec_enabled else ())]
        definition = {
            "name": service,
            "image": self.images[service],
            "essential": True,
            "readonlyRootFilesystem": True,
            "privileged": False,
            # An init process reaps zombies and forwards SIGTERM; ECS Exec relies on it too.
            "linuxParameters": {"initProcessEnabled": True},
            "environment": [{"name": key, "value": value} for key, value in sorted(environment.items())],
            "secrets": sorted(secrets, key=lambda entry: entry["name"]),
            "mountPoints": [
                {"sourceVolume": volume, "containerPath": path, "readOnly": False} for volume, path in volumes
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": self._log_groups[service].name,
                    "awslogs-region": self._config.region,
                    "awslogs-stream-prefix": service,
                },
            },
            **container,
        }
        return aws.ecs.TaskDefinition(
            f"{self._name}-{service}",
            family=physical_name(self._name, "ecs-family", service),
            cpu=str(size.cpu),
            memory=str(size.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture=self._config.ecs.architecture.value
            ),
            execution_role_arn=self._execution_role.arn,
            task_role_arn=self._task_roles[service].arn,
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name=volume) for volume, _ in volumes],
            container_definitions=pulumi.Output.json_dumps([definition]),
            # A new image replaces the revision; keeping the old one ACTIVE lets the circuit
            # breaker (or an operator) roll back to it.
            skip_destroy=True,
            opts=self._child(),
        )

    # -- services ------------------------------------------------------------
    def _service(self, service: str, task_definition: aws.ecs.TaskDefinition, **settings: Any) -> aws.ecs.Service:
        return aws.ecs.Service(
            f"{self._name}-{service}",
            name=self._names[service],
            cluster=self._cluster.arn,
            task_definition=task_definition.arn,
            platform_version="LATEST",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=self._args.private_subnet_ids,
                security_groups=[self._args.security_group_ids[service]],
                assign_public_ip=False,
            ),
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            enable_execute_command=self._config.ecs.exec_enabled,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            # Autoscaling owns the desired count once the service exists.
            opts=self._child(
                ignore_changes=["desiredCount"],
                depends_on=[self._capacity_providers, self._execution_policy, *settings.pop("depends_on", [])],
            ),
            **settings,
        )

    def _scalable_target(
        self, service: str, ecs_service: aws.ecs.Service, minimum: int, maximum: int
    ) -> aws.appautoscaling.Target:
        # Without an image to run, scaling is capped at 0 so no policy starts a task that cannot pull.
        if not self._config.image_tag:
            minimum = maximum = 0
        return aws.appautoscaling.Target(
            f"{self._name}-{service}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=f"service/{self._names['cluster']}/{self._names[service]}",
            min_capacity=minimum,
            max_capacity=maximum,
            opts=self._child(depends_on=[ecs_service]),
        )

    def _policy(self, label: str, target: aws.appautoscaling.Target, **configuration: Any) -> aws.appautoscaling.Policy:
        return aws.appautoscaling.Policy(
            f"{self._name}-{label}",
            name=f"{self._name}-{label}",
            resource_id=target.resource_id,
            scalable_dimension=target.scalable_dimension,
            service_namespace=target.service_namespace,
            opts=self._child(),
            **configuration,
        )

    def _create_api(self) -> None:
        api = self._config.api
        task_definition = self._task_definition(
            "api",
            api,
            self._environment({"PORT": str(api.container_port)}),
            {
                "portMappings": [
                    {
                        "name": "http",
                        "containerPort": api.container_port,
                        "hostPort": api.container_port,
                        "protocol": "tcp",
                    }
                ]
            },
        )
        service = self._service(
            "api",
            task_definition,
            desired_count=api.desired_count if self._config.image_tag else 0,
            capacity_provider_strategies=[
                # The API serves traffic: on-demand only, Spot's 2-minute reclaim would drop requests.
                aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider="FARGATE", weight=1, base=0)
            ],
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=self._target_group.arn, container_name="api", container_port=api.container_port
                )
            ],
            health_check_grace_period_seconds=HEALTH_CHECK_GRACE_SECONDS,
            # Fargate spreads tasks over the subnets' AZs; rebalancing restores the spread after an AZ recovers.
            availability_zone_rebalancing="ENABLED",
            depends_on=self._listeners,
        )
        target = self._scalable_target("api", service, api.min_count, api.max_count)
        for label, metric in (
            ("cpu", "ECSServiceAverageCPUUtilization"),
            ("memory", "ECSServiceAverageMemoryUtilization"),
        ):
            self._policy(
                f"api-{label}",
                target,
                policy_type="TargetTrackingScaling",
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=API_SCALING_TARGET_PERCENT,
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type=metric
                    ),
                    scale_in_cooldown=SCALE_IN_COOLDOWN_SECONDS,
                    scale_out_cooldown=SCALE_OUT_COOLDOWN_SECONDS,
                ),
            )
        self.api_service_name = service.name

    def _create_worker(self) -> None:
        worker = self._config.worker
        task_definition = self._task_definition(
            "worker",
            worker,
            self._environment({}),
            # Fargate Spot's reclaim notice is 2 minutes; stopTimeout is how long SIGTERM lasts before SIGKILL.
            {"stopTimeout": worker.stop_timeout_seconds},
        )
        self._worker_service = self._service(
            "worker",
            task_definition,
            desired_count=0,
            capacity_provider_strategies=[
                aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider=provider, weight=weight, base=0)
                for provider, weight in self._worker_weights()
            ],
        )
        self.worker_service_name = self._worker_service.name

    # -- worker scaling ------------------------------------------------------
    def _create_backlog_function(self) -> None:
        config, args = self._config, self._args
        function_name = physical_name(self._name, "lambda", "queue-backlog")
        sample_seconds = config.worker.backlog_sample_seconds
        samples = 60 // sample_seconds
        log_group = function_log_group(
            f"{self._name}-queue-backlog", function_name, config.log_retention_days, self._child()
        )
        # Where failed samples are recorded: not retried (they are stale), but visible.
        failures = encrypted_queue(
            f"{self._name}-backlog-dlq",
            queue_name=physical_name(self._name, "sqs", "backlog-dlq"),
            retention_days=config.queue.dlq_retention_days,
            opts=self._child(),
        )
        role = function_role(
            f"{self._name}-queue-backlog",
            self._account,
            "Queue backlog function: read the work queue and worker service, publish backlog metrics",
            self._child(),
        )
        role_policy = aws.iam.RolePolicy(
            f"{self._name}-queue-backlog",
            role=role.id,
            policy=policy_document(
                statement(["sqs:GetQueueAttributes"], [args.queue_arn], sid="ReadQueueDepth"),
                statement(["ecs:DescribeServices"], [self._worker_service.arn], sid="ReadWorkerCounts"),
                # PutMetricData has no resource-level permissions; the namespace condition is the narrowing AWS offers.
                statement(
                    ["cloudwatch:PutMetricData"],
                    "*",
                    sid="PublishBacklogMetrics",
                    condition={"StringEquals": {"cloudwatch:namespace": BACKLOG_NAMESPACE}},
                ),
                statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [log_group.arn.apply(lambda arn: f"{arn}:*")],
                    sid="WriteOwnLogs",
                ),
                statement(["sqs:SendMessage"], [failures.arn], sid="RecordFailedSamples"),
                # X-Ray's trace APIs have no resource-level permissions.
                statement(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*", sid="WriteTraces"),
            ),
            opts=self._child(),
        )
        function = aws.lambda_.Function(
            f"{self._name}-queue-backlog",
            name=function_name,
            description=f"Publishes {self._names['worker']}'s queue backlog to {BACKLOG_NAMESPACE} every {sample_seconds} s",
            runtime="python3.13",
            architectures=["arm64"],
            handler="queue_backlog.handler",
            code=pulumi.AssetArchive({"queue_backlog.py": pulumi.StringAsset(BACKLOG_FUNCTION_SOURCE.read_text())}),
            role=role.arn,
            memory_size=128,
            # One sampler at a time: each run ends well inside its minute.
            reserved_concurrent_executions=1,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            # The last sample starts (samples - 1) * interval seconds in; 15 s covers its API calls.
            timeout=(samples - 1) * sample_seconds + 15,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "QUEUE_URL": args.queue_url,
                    "CLUSTER_NAME": self._names["cluster"],
                    "SERVICE_NAME": self._names["worker"],
                    "METRIC_NAMESPACE": BACKLOG_NAMESPACE,
                    "SAMPLE_INTERVAL_SECONDS": str(sample_seconds),
                }
            ),
            opts=self._child(depends_on=[log_group, role_policy]),
        )
        # A sample retried later is stale: the next invocation is a minute away anyway.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{self._name}-queue-backlog",
            function_name=function.name,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=60,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=failures.arn
                ),
            ),
            opts=self._child(),
        )
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-queue-backlog",
            name=function_name,
            description="Runs the queue backlog function every minute",
            schedule_expression="rate(1 minute)",
            opts=self._child(),
        )
        aws.lambda_.Permission(
            f"{self._name}-queue-backlog",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=self._child(),
        )
        aws.cloudwatch.EventTarget(
            f"{self._name}-queue-backlog",
            rule=rule.name,
            arn=function.arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=0, maximum_event_age_in_seconds=60
            ),
            opts=self._child(),
        )
        self.backlog_function_name = function.name
        self.backlog_failure_queue_name = failures.name
        self.log_group_names["queue_backlog"] = log_group.name
        dimensions = {"ClusterName": self._names["cluster"], "ServiceName": self._names["worker"]}
        self.backlog_metric = {
            "namespace": BACKLOG_NAMESPACE,
            "dimensions": dimensions,
            "metrics": list(BACKLOG_METRICS),
        }

    def _create_worker_scaling(self) -> None:
        worker = self._config.worker
        dimensions = self.backlog_metric["dimensions"]
        target = self._scalable_target("worker", self._worker_service, 0, worker.max_count)

        # Zero to one: target tracking multiplies the current count, so from 0 it never adds a task.
        wake = self._policy(
            "worker-wake",
            target,
            policy_type="StepScaling",
            step_scaling_policy_configuration=aws.appautoscaling.PolicyStepScalingPolicyConfigurationArgs(
                adjustment_type="ExactCapacity",
                metric_aggregation_type="Maximum",
                cooldown=SCALE_OUT_COOLDOWN_SECONDS,
                step_adjustments=[
                    aws.appautoscaling.PolicyStepScalingPolicyConfigurationStepAdjustmentArgs(
                        metric_interval_lower_bound="0", scaling_adjustment=1
                    )
                ],
            ),
        )
        self._alarm(
            "worker-wake",
            "Messages wait and the worker has 0 tasks: start one",
            metric_name="BacklogWithNoTasks",
            dimensions=dimensions,
            statistic="Maximum",
            # Sub-minute period: a high-resolution alarm over the function's 1-second metrics.
            period=worker.backlog_sample_seconds,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            # No sample (the function failed) must not start or stop anything.
            treat_missing_data="notBreaching",
            alarm_actions=[wake.arn],
        )

        # One to many: scale-in is left to the scale-to-zero policy, because BacklogPerTask
        # reads 0 while every task still holds a message in flight.
        self._policy(
            "worker-backlog",
            target,
            policy_type="TargetTrackingScaling",
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=worker.backlog_per_task,
                customized_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs(
                    namespace=BACKLOG_NAMESPACE,
                    metric_name="BacklogPerTask",
                    dimensions=[
                        aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensionArgs(
                            name=key, value=value
                        )
                        for key, value in dimensions.items()
                    ],
                    statistic="Average",
                ),
                disable_scale_in=True,
                scale_out_cooldown=SCALE_OUT_COOLDOWN_SECONDS,
            ),
        )

        # Back to zero: only after the queue (visible + in flight) was empty in every sample
        # of scaleInAfterMinutes consecutive minutes while tasks were running.
        to_zero = self._policy(
            "worker-scale-to-zero",
            target,
            policy_type="StepScaling",
            step_scaling_policy_configuration=aws.appautoscaling.PolicyStepScalingPolicyConfigurationArgs(
                adjustment_type="ExactCapacity",
                metric_aggregation_type="Minimum",
                cooldown=SCALE_OUT_COOLDOWN_SECONDS,
                step_adjustments=[
                    aws.appautoscaling.PolicyStepScalingPolicyConfigurationStepAdjustmentArgs(
                        metric_interval_lower_bound="0", scaling_adjustment=0
                    )
                ],
            ),
        )
        self._alarm(
            "worker-scale-to-zero",
            f"Queue empty (visible + in flight) for {worker.scale_in_after_minutes} minutes with tasks running: stop them",
            metric_name="TasksWithNoBacklog",
            dimensions=dimensions,
            statistic="Minimum",
            period=60,
            evaluation_periods=worker.scale_in_after_minutes,
            datapoints_to_alarm=worker.scale_in_after_minutes,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            # A minute without samples is not proof of an empty queue.
            treat_missing_data="notBreaching",
            alarm_actions=[to_zero.arn],
        )

    def _alarm(self, label: str, description: str, **settings: Any) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{label}",
            name=physical_name(self._name, "alarm", label),
            alarm_description=description,
            namespace=BACKLOG_NAMESPACE,
            opts=self._child(),
            **settings,
        )
