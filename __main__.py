"""Flow Builder on AWS: read the stack's validated config, wire the components.

| concern    | standard (dev, staging, prod)         | zero-scale (ultra)                 |
|------------|---------------------------------------|------------------------------------|
| network    | Networking: new VPC, 3 tiers, NAT     | ExistingVpc: its public subnets    |
| database   | Database: RDS, managed secret         | ExternalDatabase: URL secret       |
| api        | FrontDoor (ALB) + ApiService          | ServerlessApi: Lambda + HTTP API   |
| worker     | QueueWorker: 0..N on backlog          | WorkerPipe: Pipe -> Step Functions |
| scheduler  | SchedulerLambda in private subnets    | SchedulerLambda, no VPC            |
| monitoring | every alarm, dashboard, budget        | lost-work alarms, budget           |
| kubernetes | the mesh/ project where eks.enabled   | never                              |
"""

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import (
    ApiService,
    ApiServiceArgs,
    ApplicationAccess,
    AwsAccount,
    ContainerRegistry,
    ContainerRegistryArgs,
    Database,
    DatabaseArgs,
    DatabaseConnection,
    EcsCluster,
    EcsClusterArgs,
    ExistingVpc,
    ExistingVpcArgs,
    ExternalDatabase,
    ExternalDatabaseArgs,
    FrontDoor,
    FrontDoorArgs,
    Monitoring,
    MonitoringArgs,
    Networking,
    NetworkingArgs,
    Placement,
    QueueWorker,
    QueueWorkerArgs,
    SchedulerLambda,
    SchedulerLambdaArgs,
    ServerlessApi,
    ServerlessApiArgs,
    StackContext,
    WorkerPipe,
    WorkerPipeArgs,
    WorkQueue,
    WorkQueueArgs,
    aws_provider,
    images_to_push,
)
from components.ecs import FARGATE, FARGATE_SPOT, capacity_strategy
from components.images import ContainerImages
from components.watch import Watch
from stackconfig import Environment, StackConfig, StackSecrets, load_stack_config


@dataclass
class Platform:
    """What one topology declared, for Monitoring and the stack outputs."""

    database: DatabaseConnection
    scheduler: SchedulerLambda
    watches: list[Watch]
    """In dashboard order."""
    access: ApplicationAccess
    outputs: dict[str, Any] = field(default_factory=dict)


def scheduler_lambda(
    config: StackConfig,
    context: StackContext,
    images: ContainerImages,
    queue: WorkQueue,
    database: DatabaseConnection,
    placement: Placement | None,
    opts: pulumi.ResourceOptions,
) -> SchedulerLambda:
    return SchedulerLambda(
        context.prefix,
        SchedulerLambdaArgs(
            context,
            config.scheduler,
            architecture=config.ecs.architecture,
            image=images.scheduler,
            queue=queue.work,
            database=database,
            failure_retention_days=config.queue.dlq_retention_days,
            placement=placement,
        ),
        opts,
    )


def standard(
    config: StackConfig, context: StackContext, images: ContainerImages, queue: WorkQueue, opts: pulumi.ResourceOptions
) -> Platform:
    name, prod = context.prefix, config.environment is Environment.PROD
    network = Networking(name, NetworkingArgs(context, config.network, api_port=config.api.container_port), opts)
    groups = network.security_groups
    database = Database(
        name,
        DatabaseArgs(context, config.database, network.db_subnet_group_name, groups.database),
        opts,
    )
    cluster = EcsCluster(
        name,
        EcsClusterArgs(
            context,
            capacity_providers=[FARGATE, FARGATE_SPOT],
            default_strategy=capacity_strategy(config.worker.on_demand_weight, config.worker.spot_weight),
            container_insights=config.ecs.container_insights,
        ),
        opts,
    )
    front_door = FrontDoor(
        name,
        FrontDoorArgs(
            context,
            config.api,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            security_group_id=groups.alb,
            deletion_protection=prod,
            access_logs=prod,
        ),
        opts,
    )
    api = ApiService(
        name,
        ApiServiceArgs(
            context,
            config.api,
            config.ecs,
            cluster=cluster.ref,
            image=images.api,
            placement=Placement(network.private_subnet_ids, groups.api),
            target=front_door.target,
            queue=queue.work,
            database=database.connection,
        ),
        opts,
    )
    worker = QueueWorker(
        name,
        QueueWorkerArgs(
            context,
            config.worker,
            config.ecs,
            cluster=cluster.ref,
            image=images.worker,
            placement=Placement(network.private_subnet_ids, groups.worker),
            queue=queue.work,
            database=database.connection,
            failure_retention_days=config.queue.dlq_retention_days,
        ),
        opts,
    )
    scheduler = scheduler_lambda(
        config,
        context,
        images,
        queue,
        database.connection,
        Placement(network.private_subnet_ids, groups.scheduler),
        opts,
    )
    outputs: dict[str, Any] = {
        "vpcId": network.vpc_id,
        "publicSubnetIds": network.public_subnet_ids,
        "privateSubnetIds": network.private_subnet_ids,
        "databaseSubnetIds": network.database_subnet_ids,
        "securityGroupIds": groups.by_label(),
        "databaseEndpoint": database.endpoint,
        "databasePort": database.port,
        "databaseName": database.database_name,
        "databaseInstanceId": database.instance_identifier,
        "ecsClusterName": cluster.ref.name,
        "apiUrl": front_door.url,
        "apiEndpointNote": front_door.endpoint_note,
        "albDnsName": front_door.dns_name,
        "apiServiceName": api.service_name,
        "workerServiceName": worker.service_name,
        "containerImages": {"api": api.image_uri, "worker": worker.image_uri},
        "workerBacklogMetric": worker.sampler.metrics.as_output(),
    }
    return Platform(
        database=database.connection,
        scheduler=scheduler,
        watches=[api.watch, worker.watch, queue.watch, front_door.watch, database.watch, scheduler.watch],
        access=ApplicationAccess(
            role_names=[api.task_role_name, worker.task_role_name, scheduler.role_name],
            security_group_ids=[groups.api, groups.worker, groups.scheduler],
        ),
        outputs=outputs,
    )


def zero_scale(
    config: StackConfig,
    secrets: StackSecrets,
    context: StackContext,
    images: ContainerImages,
    queue: WorkQueue,
    opts: pulumi.ResourceOptions,
) -> Platform:
    name = context.prefix
    vpc = ExistingVpc(name, ExistingVpcArgs(config.network.existing_vpc_id), opts)
    database = ExternalDatabase(name, ExternalDatabaseArgs(context, secrets.external_database_url), opts)
    cluster = EcsCluster(
        name,
        EcsClusterArgs(
            context,
            capacity_providers=[FARGATE_SPOT],
            default_strategy=[(FARGATE_SPOT, 100)],
            container_insights=config.ecs.container_insights,
        ),
        opts,
    )
    pipe = WorkerPipe(
        name,
        WorkerPipeArgs(
            context,
            config.worker,
            max_receive_count=config.queue.max_receive_count,
            architecture=config.ecs.architecture,
            cluster=cluster.ref,
            image=images.worker,
            placement=Placement(vpc.public_subnet_ids, vpc.worker_security_group_id, public_ip=True),
            queue=queue.work,
            dead_letter=queue.dead_letter,
            database=database.connection,
        ),
        opts,
    )
    api = ServerlessApi(
        name,
        ServerlessApiArgs(
            context,
            config.api,
            architecture=config.ecs.architecture,
            image=images.api,
            queue=queue.work,
            database=database.connection,
        ),
        opts,
    )
    # Outside any VPC: the external database is on the internet, and there is no NAT.
    scheduler = scheduler_lambda(config, context, images, queue, database.connection, None, opts)
    outputs: dict[str, Any] = {
        "vpcId": vpc.vpc_id,
        "publicSubnetIds": vpc.public_subnet_ids,
        "securityGroupIds": {"worker": vpc.worker_security_group_id},
        "ecsClusterName": cluster.ref.name,
        "workerPipeName": pipe.pipe_name,
        "workerStateMachineArn": pipe.state_machine_arn,
        "apiEndpoint": api.api_endpoint,
        "apiFunctionName": api.function_name,
    }
    if api.api_url is not None:
        outputs["apiUrl"] = api.api_url
    return Platform(
        database=database.connection,
        scheduler=scheduler,
        watches=[queue.watch, scheduler.watch, pipe.watch, api.watch],
        access=ApplicationAccess(
            role_names=[api.role_name, pipe.task_role_name, scheduler.role_name],
            security_group_ids=[vpc.worker_security_group_id],
        ),
        outputs=outputs,
    )


config, secrets = load_stack_config(pulumi.get_project(), pulumi.get_stack())
provider = aws_provider(config)
on_aws = pulumi.ResourceOptions(providers=[provider])
context = StackContext.of(config, AwsAccount.lookup(provider, config.region))
name = context.prefix

registry = ContainerRegistry(
    name,
    ContainerRegistryArgs(
        context,
        config.images,
        keep_tagged_images=config.ecs.keep_tagged_images,
        force_delete=config.environment is not Environment.PROD,
    ),
    on_aws,
)
queue = WorkQueue(
    name,
    WorkQueueArgs(
        context,
        config.queue,
        max_run_minutes=config.worker.max_run_minutes,
        oldest_message_alarm_seconds=config.monitoring.oldest_message_age_seconds,
    ),
    on_aws,
)
platform = (
    standard(config, context, registry.images, queue, on_aws)
    if config.is_standard
    else zero_scale(config, secrets, context, registry.images, queue, on_aws)
)
monitoring = Monitoring(
    name,
    MonitoringArgs(
        context,
        config.monitoring,
        platform.watches,
        # Zero-scale keeps only what reports lost work or failed requests: each alarm metric
        # costs $0.10 a month against a $10 budget.
        essential_alarms_only=not config.is_standard,
    ),
    on_aws,
)

for key, value in platform.outputs.items():
    pulumi.export(key, value)
# The secret's ARN only: its value is read by reference, never exported.
pulumi.export("databaseSecretArn", platform.database.secret_arn)
pulumi.export("databaseSecretKind", platform.database.secret_kind)
pulumi.export("repositoryUrls", registry.repository_urls)
pulumi.export("workQueueUrl", queue.work.url)
pulumi.export("deadLetterQueueUrl", queue.dead_letter.url)
pulumi.export("schedulerFunctionName", platform.scheduler.function_name)
pulumi.export("schedulerFailureQueueUrl", platform.scheduler.failure_queue.url)
# Who a component serving the applications (an uploads bucket, a cache) grants access to.
pulumi.export("applicationRoleNames", platform.access.role_names)
pulumi.export("applicationSecurityGroupIds", platform.access.security_group_ids)
# Until every image has a digest: which repositories wait for one, and how it gets recorded.
awaiting = images_to_push(registry.images, config.stack)
if awaiting is not None:
    pulumi.export("imagesToPush", awaiting)
pulumi.export("alertTopicArn", monitoring.topic_arn)
pulumi.export("alarmNames", monitoring.alarm_names)
pulumi.export("monthlyBudgetName", monitoring.budget_name)
if monitoring.dashboard_url:
    pulumi.export("dashboardUrl", monitoring.dashboard_url)
