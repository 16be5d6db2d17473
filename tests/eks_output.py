"""A base stack's ``eks`` output, for tests of the mesh project that run without the base program.

The keys are the mesh project's contract with the base program (``components/mesh/platform.py``,
``EKS_OUTPUT_KEYS``); the values are shaped as AWS returns them.
"""

from __future__ import annotations

from simulation.mocks import ACCOUNT_ID

STAND_IN_EKS_OUTPUT = {
    "clusterName": "flowbuilder-stack-eks",
    "endpoint": "https://0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com",
    "certificateAuthority": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
    "kubernetesVersion": "1.35",
    "region": "us-east-1",
    "nodeRoleName": "flowbuilder-stack-karpenter-node",
    "nodeSecurityGroupId": "sg-0123456789abcdef0",
    "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "discoveryTag": "flowbuilder-stack-eks",
    "interruptionQueueName": "flowbuilder-stack-karpenter",
    "karpenterServiceAccount": "kube-system/karpenter",
    "externalSecretsServiceAccount": "external-secrets/external-secrets",
    "databaseSecretArn": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:rds!db-0123abcd-AbCdEf",
    "databaseEndpoint": "flowbuilder-stack-db.c0123456789a.us-east-1.rds.amazonaws.com",
    "databasePort": 5432,
    "databaseName": "flowbuilder",
    "applicationDatabaseUser": "flowbuilder_app",
}
