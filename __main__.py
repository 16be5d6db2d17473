"""Flow Builder on AWS: read the stack's validated config, wire the components.

| concern    | standard (dev, staging, prod)     | zero-scale (ultra)            |
|------------|-----------------------------------|-------------------------------|
| network    | new VPC, 3 tiers, NAT per stack   | existing VPC, public subnets  |
| database   | RDS PostgreSQL, managed secret    | external DB, URL secret       |
| api        | Fargate behind an ALB (EcsCluster)| image Lambda behind HTTP API  |
| worker     | Fargate service, 0..N on backlog  | Pipe -> Step Functions -> Spot |
| scheduler  | image Lambda in private subnets   | image Lambda, no VPC          |
| monitoring | dashboard, all alarms, budget     | lost-work alarms, budget      |
"""

import pulumi

from components import (
    ContainerRegistry,
    ContainerRegistryArgs,
    Database,
    DatabaseArgs,
    EcsCluster,
    EcsClusterArgs,
    EksMesh,
    EksMeshArgs,
    Monitoring,
    MonitoringArgs,
    Networking,
    NetworkingArgs,
    SchedulerLambda,
    SchedulerLambdaArgs,
    ServerlessApi,
    ServerlessApiArgs,
    WorkerPipe,
    WorkerPipeArgs,
    WorkQueue,
    WorkQueueArgs,
    aws_provider,
)
from components.context import AwsAccount, StackContext
from stackconfig import Environment, load_stack_config

config, secrets = load_stack_config(pulumi.get_project(), pulumi.get_stack())
name = config.name_prefix
provider = aws_provider(config)
on_aws = pulumi.ResourceOptions(providers=[provider])
context = StackContext.of(config, AwsAccount.lookup(provider, config.region))
prod = config.environment is Environment.PROD

network = Networking(name, NetworkingArgs(config), on_aws)
database = Database(
    name,
    DatabaseArgs(
        config,
        db_subnet_group_name=network.db_subnet_group_name,
        security_group_id=network.security_group_ids.get("database"),
        external_database_url=secrets.external_database_url,
    ),
    on_aws,
)
registry = ContainerRegistry(
    name,
    ContainerRegistryArgs(context, keep_tagged_images=config.ecs.keep_tagged_images, force_delete=not prod),
    on_aws,
)
queue = WorkQueue(name, WorkQueueArgs(context, config.queue, max_run_minutes=config.worker.max_run_minutes), on_aws)
scheduler = SchedulerLambda(
    name,
    SchedulerLambdaArgs(
        config,
        queue_url=queue.work.url,
        queue_arn=queue.work.arn,
        repository_url=registry.repository_urls["scheduler"],
        repository_arn=registry.repository_arns["scheduler"],
        database_secret_arn=database.secret_arn,
        database_environment=database.connection_environment,
        subnet_ids=network.private_subnet_ids if config.is_standard else None,
        security_group_id=network.security_group_ids.get("scheduler"),
    ),
    on_aws,
)
worker_pipe = (
    None
    if config.is_standard
    else WorkerPipe(
        name,
        WorkerPipeArgs(
            config,
            queue_arn=queue.work.arn,
            dlq_arn=queue.dead_letter.arn,
            dlq_url=queue.dead_letter.url,
            repository_url=registry.repository_urls["worker"],
            repository_arn=registry.repository_arns["worker"],
            subnet_ids=network.public_subnet_ids,
            security_group_id=network.security_group_ids["worker"],
            database_secret_arn=database.secret_arn,
            database_environment=database.connection_environment,
        ),
        on_aws,
    )
)
serverless_api = (
    None
    if config.is_standard
    else ServerlessApi(
        name,
        ServerlessApiArgs(
            config,
            queue_url=queue.work.url,
            queue_arn=queue.work.arn,
            repository_url=registry.repository_urls["api"],
            repository_arn=registry.repository_arns["api"],
            database_secret_arn=database.secret_arn,
            database_environment=database.connection_environment,
        ),
        on_aws,
    )
)
ecs = (
    EcsCluster(
        name,
        EcsClusterArgs(
            config,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            private_subnet_ids=network.private_subnet_ids,
            security_group_ids=network.security_group_ids,
            queue_url=queue.work.url,
            queue_arn=queue.work.arn,
            repository_urls=registry.repository_urls,
            repository_arns=registry.repository_arns,
            database_secret_arn=database.secret_arn,
            database_environment=database.connection_environment,
            database_secrets=database.ecs_secrets,
        ),
        on_aws,
    )
    if config.is_standard
    else None
)
mesh = (
    EksMesh(name, EksMeshArgs(config, vpc_id=network.vpc_id, private_subnet_ids=network.private_subnet_ids), on_aws)
    if config.eks.enabled
    else None
)
monitoring = Monitoring(
    name,
    MonitoringArgs(
        config,
        queue_name=queue.work.name,
        dlq_name=queue.dead_letter.name,
        cluster_name=ecs.cluster_name if ecs else None,
        api_service_name=ecs.api_service_name if ecs else None,
        worker_service_name=ecs.worker_service_name if ecs else None,
        backlog_metric_namespace=ecs.backlog_metric["namespace"] if ecs else None,
        load_balancer_arn_suffix=ecs.alb_arn_suffix if ecs else None,
        target_group_arn_suffix=ecs.target_group_arn_suffix if ecs else None,
        db_instance_identifier=database.instance_identifier,
        db_allocated_storage_gb=database.allocated_storage_gb,
        # The scheduler function exists only once imageTag is set.
        scheduler_function_name=scheduler.function_name if scheduler.function_arn is not None else None,
        scheduler_failure_queue_name=scheduler.failure_queue_name,
        pipe_name=worker_pipe.pipe_name if worker_pipe else None,
        state_machine_arn=worker_pipe.state_machine_arn if worker_pipe else None,
        # The zero-scale API serves (function and stage exist) only once imageTag is set.
        http_api_id=serverless_api.api_id if serverless_api and serverless_api.function_arn is not None else None,
        api_function_name=(
            serverless_api.function_name if serverless_api and serverless_api.function_arn is not None else None
        ),
    ),
    on_aws,
)

pulumi.export("vpcId", network.vpc_id)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("databaseSubnetIds", network.database_subnet_ids)
pulumi.export("securityGroupIds", network.security_group_ids)
# The secret's ARN only: its value is read by reference, never exported.
pulumi.export("databaseSecretArn", database.secret_arn)
pulumi.export("databaseSecretKind", database.secret_kind)
if config.is_standard:
    pulumi.export("databaseEndpoint", database.endpoint)
    pulumi.export("databasePort", database.port)
    pulumi.export("databaseName", database.database_name)
    pulumi.export("databaseInstanceId", database.instance_identifier)
pulumi.export("repositoryUrls", registry.repository_urls)
pulumi.export("workQueueUrl", queue.work.url)
pulumi.export("deadLetterQueueUrl", queue.dead_letter.url)
pulumi.export("schedulerFunctionName", scheduler.function_name)
pulumi.export("schedulerFailureQueueUrl", scheduler.failure_queue_url)
if ecs:
    pulumi.export("apiUrl", ecs.api_url)
    pulumi.export("apiEndpointNote", ecs.api_endpoint_note)
    pulumi.export("albDnsName", ecs.alb_dns_name)
    pulumi.export("ecsClusterName", ecs.cluster_name)
    pulumi.export("apiServiceName", ecs.api_service_name)
    pulumi.export("workerServiceName", ecs.worker_service_name)
    pulumi.export("containerImages", ecs.images)
    pulumi.export("workerBacklogMetric", ecs.backlog_metric)
if worker_pipe:
    pulumi.export("workerClusterName", worker_pipe.cluster_name)
    pulumi.export("workerPipeName", worker_pipe.pipe_name)
    pulumi.export("workerStateMachineArn", worker_pipe.state_machine_arn)
if serverless_api:
    pulumi.export("apiEndpoint", serverless_api.api_endpoint)
    pulumi.export("apiFunctionName", serverless_api.function_name)
    if serverless_api.api_url is not None:
        pulumi.export("apiUrl", serverless_api.api_url)
# Until imageTag is set, the components that need an image say which repositories wait for one.
awaiting_images = [
    c.awaiting_image for c in (scheduler, worker_pipe, serverless_api) if c is not None and c.awaiting_image is not None
]
awaiting_images += ecs.awaiting_images if ecs else []
if awaiting_images:
    pulumi.export(
        "imagesToPush",
        pulumi.Output.all(*awaiting_images).apply(
            lambda urls: {
                "push": [f"docker push {url}:<git-sha>" for url in urls],
                "then": "pulumi config set imageTag <git-sha> && pulumi up",
            }
        ),
    )
if mesh:
    pulumi.export("eksClusterName", mesh.cluster_name)
pulumi.export("alertTopicArn", monitoring.topic_arn)
pulumi.export("alarmNames", monitoring.alarm_names)
pulumi.export("monthlyBudgetName", monitoring.budget_name)
if monitoring.dashboard_url:
    pulumi.export("dashboardUrl", monitoring.dashboard_url)
