"""Flow Builder on AWS: read the stack's validated config, wire the components.

| concern    | standard (dev, staging, prod)         | zero-scale (ultra)                 |
|------------|---------------------------------------|------------------------------------|
| network    | Networking: new VPC, 3 tiers, NAT     | ExistingVpc: its public subnets    |
| database   | Database: RDS, managed secret         | ExternalDatabase: URL secret       |
| api        | FrontDoor (ALB) + ApiService          | ServerlessApi: Lambda + HTTP API   |
| worker     | QueueWorker: 0..N on backlog          | WorkerPipe: Pipe -> Step Functions |
| scheduler  | SchedulerLambda in private subnets    | SchedulerLambda, no VPC            |
| monitoring | every alarm, dashboard, budget        | lost-work alarms, budget           |
"""

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
    EcsCluster,
    EcsClusterArgs,
    EksMesh,
    EksMeshArgs,
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
from stackconfig import Environment, load_stack_config

config, secrets = load_stack_config(pulumi.get_project(), pulumi.get_stack())
name = config.name_prefix
provider = aws_provider(config)
on_aws = pulumi.ResourceOptions(providers=[provider])
context = StackContext.of(config, AwsAccount.lookup(provider, config.region))
prod = config.environment is Environment.PROD

registry = ContainerRegistry(
    name,
    ContainerRegistryArgs(
        context, config.images, keep_tagged_images=config.ecs.keep_tagged_images, force_delete=not prod
    ),
    on_aws,
)
images = registry.images
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

if config.is_standard:
    network = Networking(name, NetworkingArgs(context, config.network, api_port=config.api.container_port), on_aws)
    groups = network.security_groups
    database = Database(
        name,
        DatabaseArgs(
            context,
            config.database,
            subnet_group_name=network.db_subnet_group_name,
            security_group_id=groups.database,
        ),
        on_aws,
    )
    cluster = EcsCluster(
        name,
        EcsClusterArgs(
            context,
            capacity_providers=[FARGATE, FARGATE_SPOT],
            default_strategy=capacity_strategy(config.worker.on_demand_weight, config.worker.spot_weight),
            container_insights=config.ecs.container_insights,
        ),
        on_aws,
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
        on_aws,
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
        on_aws,
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
        on_aws,
    )
    scheduler_placement: Placement | None = Placement(network.private_subnet_ids, groups.scheduler)
else:
    vpc = ExistingVpc(name, ExistingVpcArgs(config.network.existing_vpc_id), on_aws)
    database = ExternalDatabase(name, ExternalDatabaseArgs(context, secrets.external_database_url), on_aws)
    cluster = EcsCluster(
        name,
        EcsClusterArgs(
            context,
            capacity_providers=[FARGATE_SPOT],
            default_strategy=[(FARGATE_SPOT, 100)],
            container_insights=config.ecs.container_insights,
        ),
        on_aws,
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
        on_aws,
    )
    serverless_api = ServerlessApi(
        name,
        ServerlessApiArgs(
            context,
            config.api,
            architecture=config.ecs.architecture,
            image=images.api,
            queue=queue.work,
            database=database.connection,
        ),
        on_aws,
    )
    # Outside any VPC: the external database is on the internet, and there is no NAT.
    scheduler_placement = None

scheduler = SchedulerLambda(
    name,
    SchedulerLambdaArgs(
        context,
        config.scheduler,
        architecture=config.ecs.architecture,
        image=images.scheduler,
        queue=queue.work,
        database=database.connection,
        failure_retention_days=config.queue.dlq_retention_days,
        placement=scheduler_placement,
    ),
    on_aws,
)

if config.is_standard:
    watches = [api.watch, worker.watch, queue.watch, front_door.watch, database.watch, scheduler.watch]
    access = ApplicationAccess(
        role_names=[api.task_role_name, worker.task_role_name, scheduler.role_name],
        security_group_ids=[groups.api, groups.worker, groups.scheduler],
    )
else:
    watches = [queue.watch, scheduler.watch, pipe.watch, serverless_api.watch]
    access = ApplicationAccess(
        role_names=[serverless_api.role_name, pipe.task_role_name, scheduler.role_name],
        security_group_ids=[vpc.worker_security_group_id],
    )
monitoring = Monitoring(
    name,
    MonitoringArgs(context, config.monitoring, watches, essential_alarms_only=not config.is_standard),
    on_aws,
)
mesh = (
    EksMesh(name, EksMeshArgs(config, vpc_id=network.vpc_id, private_subnet_ids=network.private_subnet_ids), on_aws)
    if config.eks.enabled
    else None
)

if config.is_standard:
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("publicSubnetIds", network.public_subnet_ids)
    pulumi.export("privateSubnetIds", network.private_subnet_ids)
    pulumi.export("databaseSubnetIds", network.database_subnet_ids)
    pulumi.export("securityGroupIds", groups.by_label())
    pulumi.export("databaseEndpoint", database.endpoint)
    pulumi.export("databasePort", database.port)
    pulumi.export("databaseName", database.database_name)
    pulumi.export("databaseInstanceId", database.instance_identifier)
    pulumi.export("apiUrl", front_door.url)
    pulumi.export("apiEndpointNote", front_door.endpoint_note)
    pulumi.export("albDnsName", front_door.dns_name)
    pulumi.export("apiServiceName", api.service_name)
    pulumi.export("workerServiceName", worker.service_name)
    pulumi.export("containerImages", {"api": api.image_uri, "worker": worker.image_uri})
    pulumi.export("workerBacklogMetric", worker.sampler.metrics.as_output())
else:
    pulumi.export("vpcId", vpc.vpc_id)
    pulumi.export("publicSubnetIds", vpc.public_subnet_ids)
    pulumi.export("securityGroupIds", {"worker": vpc.worker_security_group_id})
    pulumi.export("workerPipeName", pipe.pipe_name)
    pulumi.export("workerStateMachineArn", pipe.state_machine_arn)
    pulumi.export("apiEndpoint", serverless_api.api_endpoint)
    pulumi.export("apiFunctionName", serverless_api.function_name)
    if serverless_api.api_url is not None:
        pulumi.export("apiUrl", serverless_api.api_url)
# The secret's ARN only: its value is read by reference, never exported.
pulumi.export("databaseSecretArn", database.connection.secret_arn)
pulumi.export("databaseSecretKind", database.connection.secret_kind)
pulumi.export("ecsClusterName", cluster.ref.name)
pulumi.export("repositoryUrls", registry.repository_urls)
pulumi.export("workQueueUrl", queue.work.url)
pulumi.export("deadLetterQueueUrl", queue.dead_letter.url)
pulumi.export("schedulerFunctionName", scheduler.function_name)
pulumi.export("schedulerFailureQueueUrl", scheduler.failure_queue.url)
pulumi.export("applicationRoleNames", access.role_names)
pulumi.export("applicationSecurityGroupIds", access.security_group_ids)
# Until every image has a digest, which repositories wait for one and how it gets recorded.
awaiting = images_to_push(images, config.stack)
if awaiting is not None:
    pulumi.export("imagesToPush", awaiting)
if mesh:
    pulumi.export("eksClusterName", mesh.cluster_name)
pulumi.export("alertTopicArn", monitoring.topic_arn)
pulumi.export("alarmNames", monitoring.alarm_names)
pulumi.export("monthlyBudgetName", monitoring.budget_name)
if monitoring.dashboard_url:
    pulumi.export("dashboardUrl", monitoring.dashboard_url)
