"""Flow Builder on AWS: read the stack's validated config, wire the components.

| concern    | standard (dev, staging, prod)     | zero-scale (ultra)            |
|------------|-----------------------------------|-------------------------------|
| network    | new VPC, 3 tiers, NAT per stack   | existing VPC, public subnets  |
"""

import pulumi

from components import (
    ContainerRegistry,
    ContainerRegistryArgs,
    Networking,
    NetworkingArgs,
    WorkQueue,
    WorkQueueArgs,
    aws_provider,
)
from stackconfig import load_stack_config

config, secrets = load_stack_config(pulumi.get_project(), pulumi.get_stack())
name = config.name_prefix
on_aws = pulumi.ResourceOptions(providers=[aws_provider(config)])

network = Networking(name, NetworkingArgs(config), on_aws)
registry = ContainerRegistry(name, ContainerRegistryArgs(config), on_aws)
queue = WorkQueue(name, WorkQueueArgs(config), on_aws)

pulumi.export("vpcId", network.vpc_id)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("databaseSubnetIds", network.database_subnet_ids)
pulumi.export("securityGroupIds", network.security_group_ids)
pulumi.export("repositoryUrls", registry.repository_urls)
pulumi.export("workQueueUrl", queue.queue_url)
pulumi.export("deadLetterQueueUrl", queue.dlq_url)
