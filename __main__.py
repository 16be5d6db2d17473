"""Flow Builder on AWS: read the stack's validated config, wire the components.

| concern    | standard (dev, staging, prod)         | zero-scale (ultra)                 |
|------------|---------------------------------------|------------------------------------|
| network    | Networking: new VPC, 3 tiers, NAT     | ExistingVpc: its public subnets    |
| database   | Database: RDS, managed secret         | ExternalDatabase: URL secret       |
| api        | FrontDoor (ALB) + ApiService          | ServerlessApi: Lambda + HTTP API   |
| worker     | QueueWorker: 0..N on backlog          | WorkerPipe: Pipe -> Step Functions |
| scheduler  | SchedulerLambda in private subnets    | SchedulerLambda, no VPC            |
| monitoring | every alarm, dashboard, budget        | lost-work alarms, budget           |
| kubernetes | EksCluster, Karpenter, CiRunner where eks.enabled (the mesh/ project runs inside) | never |
| files      | Uploads (bucket, optional CDN): on    | Uploads where uploads.enabled      |
| e-mail     | Email (SES, events over SNS) where email.enabled, both topologies          |
"""

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import (
    ApiService,
    ApiServiceArgs,
    ApplicationAccess,
    AwsAccount,
    Backups,
    BackupsArgs,
    Cache,
    CacheArgs,
    CiRunner,
    CiRunnerArgs,
    ContainerRegistry,
    ContainerRegistryArgs,
    Database,
    DatabaseArgs,
    DatabaseConnection,
    EcsCluster,
    EcsClusterArgs,
    EksCluster,
    EksClusterArgs,
    Email,
    EmailArgs,
    ExistingVpc,
    ExistingVpcArgs,
    ExternalDatabase,
    ExternalDatabaseArgs,
    FrontDoor,
    FrontDoorArgs,
    HttpApiDomain,
    HttpApiDomainArgs,
    Karpenter,
    KarpenterArgs,
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
    StackKey,
    StackKeyArgs,
    Uploads,
    UploadsArgs,
    WorkerPipe,
    WorkerPipeArgs,
    WorkQueue,
    WorkQueueArgs,
    aws_provider,
    images_to_push,
)
from components.cache import cache_environment
from components.ecs import FARGATE, FARGATE_SPOT, capacity_strategy
from components.eks import (
    EXTERNAL_SECRETS_SERVICE_ACCOUNT,
    KARPENTER_SERVICE_ACCOUNT,
    cluster_physical_name,
    private_subnet_tags,
    service_account,
)
from components.front_door.domain import DomainNames
from components.grants import ApplicationGrant, ApplicationGrantArgs
from components.images import ContainerImages
from components.migration import Migration, MigrationArgs
from components.watch import Watch
from stackconfig import (
    Environment,
    FargateSize,
    StackConfig,
    StackSecrets,
    StandardStackConfig,
    ZeroScaleStackConfig,
    load_stack_config,
)


@dataclass
class Platform:
    """What one topology declared, for Monitoring and the stack outputs."""

    database: DatabaseConnection
    scheduler: SchedulerLambda
    watches: list[Watch]
    """In dashboard order."""
    access: ApplicationAccess
    services: ApplicationAccess
    """The API and worker alone: who uses the uploads bucket and sends e-mail."""
    outputs: dict[str, Any] = field(default_factory=dict)
    domain: DomainNames | None = None
    """The API's name, certificate and zone, when the stack has a domain: for the stack outputs and
    for components that add names beside the API's (``domain.zone_id``)."""


def migration(
    config: StackConfig,
    context: StackContext,
    images: ContainerImages,
    cluster: EcsCluster,
    size: FargateSize,
    placement: Placement,
    database: DatabaseConnection,
    opts: pulumi.ResourceOptions,
) -> Migration:
    return Migration(
        context.prefix,
        MigrationArgs(
            context,
            config.migration,
            cluster=cluster.ref,
            image=images.api,
            cpu=size.cpu,
            memory=size.memory,
            architecture=config.ecs.architecture,
            placement=placement,
            database=database,
        ),
        opts,
    )


def scheduler_lambda(
    config: StackConfig,
    context: StackContext,
    images: ContainerImages,
    queue: WorkQueue,
    database: DatabaseConnection,
    placement: Placement | None,
    after: list[pulumi.Resource],
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
            after=after,
        ),
        opts,
    )


APPLICATION_DATABASE_USER = "flowbuilder_app"
"""The PostgreSQL role the applications log in as with IAM database authentication."""


def kubernetes(
    config: StackConfig,
    context: StackContext,
    network: Networking,
    database: Database,
    opts: pulumi.ResourceOptions,
) -> dict[str, Any]:
    """The cluster's AWS side; returns the ``eks`` output the mesh project reads (and the runner's name)."""
    name, eks = context.prefix, config.eks
    cluster = EksCluster(
        name,
        EksClusterArgs(
            context,
            eks,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            deletion_protection=config.environment is Environment.PROD,
            database_security_group_id=network.security_groups.database,
            secret_arns=[database.connection.secret_arn],
        ),
        opts,
    )
    karpenter = Karpenter(
        name, KarpenterArgs(context, cluster_name=cluster.physical_name, cluster=cluster.resource), opts
    )
    outputs: dict[str, Any] = {
        "eks": {
            "clusterName": cluster.cluster_name,
            "endpoint": cluster.endpoint,
            "certificateAuthority": cluster.certificate_authority,
            "kubernetesVersion": cluster.kubernetes_version,
            "region": context.region,
            "nodeRoleName": karpenter.node_role_name,
            "nodeSecurityGroupId": cluster.node_security_group_id,
            "privateSubnetIds": network.private_subnet_ids,
            "discoveryTag": cluster.physical_name,
            "interruptionQueueName": karpenter.queue_name,
            "karpenterServiceAccount": service_account(KARPENTER_SERVICE_ACCOUNT),
            "externalSecretsServiceAccount": service_account(EXTERNAL_SECRETS_SERVICE_ACCOUNT),
            "databaseSecretArn": database.connection.secret_arn,
            "databaseEndpoint": database.endpoint,
            "databasePort": database.port,
            "databaseName": database.database_name,
            "applicationDatabaseUser": APPLICATION_DATABASE_USER,
        }
    }
    if eks.ci_runner.enabled:
        runner = CiRunner(
            name,
            CiRunnerArgs(
                context,
                eks.ci_runner,
                vpc_id=network.vpc_id,
                private_subnet_ids=network.private_subnet_ids,
                cluster_security_group_id=cluster.control_plane_security_group_id,
            ),
            opts,
        )
        outputs["ciRunnerProject"] = runner.project_name
    return outputs


def standard(
    config: StandardStackConfig,
    context: StackContext,
    images: ContainerImages,
    queue: WorkQueue,
    environment: dict[str, pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> Platform:
    name, prod = context.prefix, config.environment is Environment.PROD
    network = Networking(
        name,
        NetworkingArgs(
            context,
            config.network,
            api_port=config.api.container_port,
            private_subnet_tags=private_subnet_tags(cluster_physical_name(context)) if config.eks.enabled else {},
        ),
        opts,
    )
    groups = network.security_groups
    backups = Backups(name, BackupsArgs(context, config.backups), opts) if config.backups.enabled else None
    database = Database(
        name,
        DatabaseArgs(
            context,
            config.database,
            network.db_subnet_group_name,
            groups.database,
            tags=backups.tag if backups else {},
        ),
        opts,
    )
    # The cache grants the API and worker roles, and their tasks read its endpoint: the endpoint
    # reaches their task definitions once the cache (declared after them) exists.
    cache_settings: dict[str, pulumi.Input[str]] = {}
    if config.cache.enabled:
        cache_endpoint, resolve_cache_endpoint = pulumi.deferred_output()
        cache_settings = cache_environment(context, config.cache, cache_endpoint)
    cluster = EcsCluster(
        name,
        EcsClusterArgs(
            context,
            capacity_providers=[FARGATE, FARGATE_SPOT],
            default_strategy=capacity_strategy(config.worker.on_demand_weight, config.worker.spot_weight),
            container_insights=config.ecs.container_insights,
            exec_enabled=config.ecs.exec_enabled,
        ),
        opts,
    )
    # The API's size, the worker's placement: private subnets, a group allowed to PostgreSQL and
    # nothing inbound.
    migrate = migration(
        config,
        context,
        images,
        cluster,
        config.api,
        Placement(network.private_subnet_ids, groups.worker),
        database.admin_connection,
        opts,
    )
    front_door = FrontDoor(
        name,
        FrontDoorArgs(
            context,
            config.api,
            config.domain,
            config.waf,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            security_group_id=groups.alb,
            deletion_protection=prod,
            access_logs=prod,
            strictest_desync_mitigation=prod,
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
            after=migrate.gate,
            environment={**environment, **cache_settings},
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
            after=migrate.gate,
            environment={**environment, **cache_settings},
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
        migrate.gate,
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
    if migrate.summary is not None:
        outputs["migration"] = migrate.summary
    watches = [
        api.watch,
        worker.watch,
        queue.watch,
        worker.sampler.watch,
        front_door.watch,
        database.watch,
        scheduler.watch,
    ]
    if config.cache.enabled:
        cache = Cache(
            name,
            CacheArgs(
                context,
                config.cache,
                vpc_id=network.vpc_id,
                subnet_ids=network.database_subnet_ids,
                access=ApplicationAccess(
                    role_names=[api.task_role_name, worker.task_role_name],
                    security_group_ids=[groups.api, groups.worker],
                ),
            ),
            opts,
        )
        resolve_cache_endpoint(cache.endpoint)
        watches.append(cache.watch)
        outputs |= {"cacheEndpoint": cache.endpoint, "cachePort": cache.port, "cacheUser": cache.user_name}
    if backups is not None:
        watches.append(backups.watch)
        outputs |= {
            "backupVaultName": backups.vault_name,
            "backupCopyVaultName": backups.copy_vault_name,
            "backupPlanId": backups.plan_id,
        }
    if config.eks.enabled:
        outputs.update(kubernetes(config, context, network, database, opts))
    return Platform(
        database=database.connection,
        scheduler=scheduler,
        watches=watches,
        access=ApplicationAccess(
            role_names=[api.task_role_name, worker.task_role_name, scheduler.role_name],
            security_group_ids=[groups.api, groups.worker, groups.scheduler],
        ),
        services=ApplicationAccess(
            role_names=[api.task_role_name, worker.task_role_name], security_group_ids=[groups.api, groups.worker]
        ),
        outputs=outputs,
        domain=front_door.names,
    )


def zero_scale(
    config: ZeroScaleStackConfig,
    secrets: StackSecrets,
    context: StackContext,
    images: ContainerImages,
    queue: WorkQueue,
    environment: dict[str, pulumi.Input[str]],
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
    worker_placement = Placement(vpc.public_subnet_ids, vpc.worker_security_group_id, public_ip=True)
    # The API is a Lambda here: the migration task takes the worker's Fargate size.
    migrate = migration(config, context, images, cluster, config.worker, worker_placement, database.connection, opts)
    pipe = WorkerPipe(
        name,
        WorkerPipeArgs(
            context,
            config.worker,
            max_receive_count=config.queue.max_receive_count,
            architecture=config.ecs.architecture,
            cluster=cluster.ref,
            image=images.worker,
            placement=worker_placement,
            queue=queue.work,
            dead_letter=queue.dead_letter,
            database=database.connection,
            after=migrate.gate,
            environment=environment,
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
            after=migrate.gate,
            environment=environment,
        ),
        opts,
    )
    # Outside any VPC: the external database is on the internet, and there is no NAT.
    scheduler = scheduler_lambda(config, context, images, queue, database.connection, None, migrate.gate, opts)
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
    domain = None
    if config.domain.name:
        domain = HttpApiDomain(
            name, HttpApiDomainArgs(context, config.domain, api_id=api.api_id, stage_name=api.stage_name), opts
        )
        outputs["apiUrl"] = domain.url
    elif api.api_url is not None:
        outputs["apiUrl"] = api.api_url
    if migrate.summary is not None:
        outputs["migration"] = migrate.summary
    return Platform(
        database=database.connection,
        scheduler=scheduler,
        watches=[queue.watch, scheduler.watch, pipe.watch, api.watch],
        access=ApplicationAccess(
            role_names=[api.role_name, pipe.task_role_name, scheduler.role_name],
            security_group_ids=[vpc.worker_security_group_id],
        ),
        services=ApplicationAccess(
            role_names=[api.role_name, pipe.task_role_name], security_group_ids=[vpc.worker_security_group_id]
        ),
        outputs=outputs,
        domain=domain.names if domain else None,
    )


config, secrets = load_stack_config(pulumi.get_project(), pulumi.get_stack())
provider = aws_provider(config)
on_aws = pulumi.ResourceOptions(providers=[provider])
account = AwsAccount.lookup(provider, config.region)
# First: every other component encrypts with it.
stack_key = StackKey(config.name_prefix, StackKeyArgs(config.name_prefix, account), on_aws)
context = StackContext.of(config, account, stack_key.ref)
name = context.prefix

registry = ContainerRegistry(
    name,
    ContainerRegistryArgs(
        context,
        config.images,
        keep_tagged_images=config.ecs.keep_tagged_images,
        force_delete=config.ecs.force_delete_repositories,
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
# The bucket and the identity come first: the services' containers are told their names.
uploads = (
    Uploads(name, UploadsArgs(context, config.uploads, protect=config.environment is Environment.PROD), on_aws)
    if config.uploads.enabled
    else None
)
email = Email(name, EmailArgs(context, config.email), on_aws) if config.email.enabled else None
parts: list[Uploads | Email] = [part for part in (uploads, email) if part is not None]
application_environment = {key: value for part in parts for key, value in part.environment.items()}
platform = (
    standard(config, context, registry.images, queue, application_environment, on_aws)
    if isinstance(config, StandardStackConfig)
    else zero_scale(config, secrets, context, registry.images, queue, application_environment, on_aws)
)
for part, label in ((uploads, "uploads"), (email, "email")):
    if part is not None:
        ApplicationGrant(
            f"{name}-{label}-access",
            ApplicationGrantArgs(platform.services, part.grants),
            pulumi.ResourceOptions(parent=part),
        )
monitoring = Monitoring(
    name,
    MonitoringArgs(
        context,
        config.monitoring,
        [*platform.watches, *([email.watch] if email else [])],
        # Zero-scale keeps only what reports lost work or failed requests: each alarm metric
        # costs $0.10 a month against a $10 budget.
        essential_alarms_only=not config.is_standard,
    ),
    on_aws,
)

for key, value in platform.outputs.items():
    pulumi.export(key, value)
if platform.domain is not None:
    pulumi.export("domainName", platform.domain.name)
    pulumi.export("certificateArn", platform.domain.certificate_arn)
    if platform.domain.zone_id is not None:
        pulumi.export("hostedZoneId", platform.domain.zone_id)
    if platform.domain.name_servers is not None:
        # Where the parent domain delegates to, before ACM can validate (docs/front-door.md).
        pulumi.export("hostedZoneNameServers", platform.domain.name_servers)
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
if uploads is not None:
    pulumi.export("uploadsBucketName", uploads.bucket_name)
    pulumi.export("uploadsPrefix", uploads.prefix)
    if uploads.cdn_domain is not None:
        pulumi.export("uploadsCdnDomain", uploads.cdn_domain)
if email is not None:
    pulumi.export("emailIdentity", email.identity)
    pulumi.export("emailConfigurationSet", email.configuration_set_name)
    pulumi.export("emailEventTopicArn", email.event_topic_arn)
pulumi.export("alertTopicArn", monitoring.topic_arn)
pulumi.export("stackKeyArn", stack_key.ref.arn)
pulumi.export("stackKeyAlias", stack_key.alias_name)
pulumi.export("alarmNames", monitoring.alarm_names)
pulumi.export("monthlyBudgetName", monitoring.budget_name)
if monitoring.dashboard_url:
    pulumi.export("dashboardUrl", monitoring.dashboard_url)
