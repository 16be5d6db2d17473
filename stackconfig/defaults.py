"""Every default of the stack configuration, per environment and topology.

A stack file sets only what differs from these tables. The effective value of
a key is, from strongest to weakest:

* standard stacks: the stack file, the environment's table, the common table;
* zero-scale stacks: the stack file, the zero-scale table, the common table's
  keys that zero-scale has. The environment chooses no zero-scale default: a
  zero-scale stack is sized by its topology, whatever stage it plays.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .model import TOPOLOGY_MODELS, Environment, Section, Topology

COMMON: dict[str, Any] = {
    "costCenter": "flowbuilder-platform",
    # No digest until the first release reaches the stack.
    "images": {},
    "network": {
        "vpcCidr": "10.0.0.0/16",
        "availabilityZones": 2,
        # Tier blocks start at .0, .10 and .20 so each tier can grow to 10 AZs
        # without renumbering.
        "publicSubnetCidrs": [f"10.0.{i}.0/24" for i in range(0, 6)],
        "privateSubnetCidrs": [f"10.0.{i}.0/24" for i in range(10, 16)],
        "databaseSubnetCidrs": [f"10.0.{i}.0/24" for i in range(20, 26)],
        "natInstanceType": "t4g.nano",
        "flowLogTraffic": "ALL",
    },
    "database": {
        "engineVersion": "16",
        "backupWindow": "03:00-04:00",
        "maintenanceWindow": "sun:04:00-sun:05:00",
        "databaseName": "flowbuilder",
        "masterUsername": "flowbuilder",
        "slowStatementMs": 500,
        # Extended Support bills per vCPU-hour on top of the instance; opt in per stack.
        "extendedSupport": False,
        "applyImmediately": True,
    },
    "api": {
        "containerPort": 8080,
        "healthCheckPath": "/health",
    },
    "worker": {
        "backlogPerTask": 10,
        "maxRunMinutes": 15,
        "scaleInAfterMinutes": 15,
        # Fargate Spot gives a 2-minute warning; 120 s lets a job checkpoint.
        "stopTimeoutSeconds": 120,
        # Three samples a minute: a first task starts within about 1.5 minutes of a message.
        "backlogSampleSeconds": 20,
    },
    "ecs": {
        "architecture": "ARM64",
        "keepTaggedImages": 20,
        # A stack that can be torn down takes its images with it; prod keeps them (BY_ENVIRONMENT).
        "forceDeleteRepositories": True,
        "applicationSecrets": {},
    },
    "queue": {
        "maxReceiveCount": 3,
        "dlqRetentionDays": 14,
        "messageRetentionDays": 4,
    },
    "scheduler": {
        "memoryMb": 512,
        "timeoutSeconds": 300,
        "scheduleExpression": "rate(5 minutes)",
    },
    "migration": {
        "command": ["alembic", "upgrade", "head"],
        "timeoutMinutes": 10,
    },
    "monitoring": {
        "alertEmails": [],
        "dashboard": True,
        "oldestMessageAgeSeconds": 900,
    },
    "eks": {
        # Off unless an environment turns it on: a cluster costs about $73 a month
        # before its first node.
        "enabled": False,
        # Standard support for 1.35 on EKS ends 2027-03-27; after that the cluster
        # moves to the next version (upgrade policy STANDARD) instead of paying
        # six times more per hour for extended support.
        "kubernetesVersion": "1.35",
        # Dev has no cluster; elsewhere the audit trail (who did what, and who was let in)
        # at the least. Each type is CloudWatch Logs ingestion billed per GB.
        "controlPlaneLogTypes": ["api", "audit", "authenticator"],
        # Two Graviton nodes, one per AZ, for Karpenter and the add-ons; Karpenter adds
        # every other node the pods ask for.
        "systemNodes": {"instanceType": "t4g.medium", "count": 2},
        # No runner until a GitHub connection is authorised (docs/eks-mesh.md).
        "ciRunner": {},
        "adminRoleArns": [],
        "publicAccessCidrs": [],
        "prometheusRetentionDays": 15,
        "prometheusVolumeGb": 0,
        "tracing": False,
        "services": [],
    },
    # No domain: dev serves plain HTTP (staging and prod must name one). HSTS for a year, the
    # ELB policy AWS recommends for new listeners (TLS 1.3 and 1.2).
    "domain": {"hstsMaxAgeSeconds": 31536000, "tlsPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
    # About $10 a month plus $0.60 per million requests: off in dev. 2,000 requests in 5 minutes
    # (6-7 a second, sustained) from one address is more than a person clicking through the app.
    "waf": {"enabled": False, "rateLimitPer5Minutes": 2000, "sqlInjection": True},
    # A bucket costs nothing until files land in it; zero-scale turns it off below.
    "uploads": {
        "enabled": True,
        "prefix": "uploads/",
        "corsOrigins": [],
        "versioning": False,
        "noncurrentExpiryDays": 30,
        # Intelligent-Tiering has no retrieval fee and no minimum duration, so files nobody
        # reads get cheaper without the app knowing their access pattern.
        "transitionStorageClass": "INTELLIGENT_TIERING",
        "transitionAfterDays": 30,
        "cdn": {"enabled": False, "priceClass": "PriceClass_100"},
    },
    # Off until a stack names the domain it sends from.
    "email": {
        "enabled": False,
        "mailFromSubdomain": "mail",
        # Monitoring only until the DMARC reports show every sender of the domain aligned.
        "dmarcPolicy": "none",
    },
    "cache": {
        # Off unless a stack asks: staging and prod turn it on in their stack files.
        "enabled": False,
        # Serverless is the cheaper one at idle: its 100 MB storage minimum is about $6.13 a month
        # against $9.34 for one cache.t4g.micro node (docs/cache.md).
        "mode": "serverless",
        "nodeType": "cache.t4g.micro",
        "nodeCount": 1,
        "maxDataStorageGb": 1,
        "maxEcpuPerSecond": 5000,
        "snapshotRetentionDays": 0,
        "snapshotTime": "05:00",
        "memoryAlarmPercent": 80,
    },
    "backups": {
        # AWS Backup on top of RDS's own automated backups: prod only unless a stack asks.
        "enabled": False,
        "copyRegion": "us-west-2",
        "dailyRetentionDays": 30,
        "weeklyRetentionDays": 84,
        # Off: a compliance lock past its grace time cannot be undone by anyone, and a dev or
        # staging vault locked by mistake keeps its recovery points (and their bill) for years.
        "vaultLock": {"enabled": False, "minRetentionDays": 7, "maxRetentionDays": 365, "changeableForDays": 3},
    },
}

BY_ENVIRONMENT: dict[Environment, dict[str, Any]] = {
    Environment.DEV: {
        "logRetentionDays": 7,
        "network": {"natStrategy": "instance", "interfaceEndpoints": False},
        "database": {
            "instanceClass": "db.t4g.micro",
            "allocatedStorageGb": 20,
            "maxAllocatedStorageGb": 100,
            "backupRetentionDays": 1,
            "multiAz": False,
            "deletionProtection": False,
            "finalSnapshot": False,
            "performanceInsights": False,
            "enhancedMonitoringSeconds": 0,
        },
        "api": {"cpu": 256, "memory": 512, "desiredCount": 1, "minCount": 1, "maxCount": 2},
        "worker": {"cpu": 1024, "memory": 2048, "maxCount": 3, "spotWeight": 1, "onDemandWeight": 0},
        "ecs": {"containerInsights": False, "execEnabled": True},
        "monitoring": {"monthlyBudgetUsd": 75},
    },
    Environment.STAGING: {
        "logRetentionDays": 14,
        "network": {"natStrategy": "single-gateway", "interfaceEndpoints": False},
        "database": {
            "instanceClass": "db.t4g.small",
            "allocatedStorageGb": 50,
            "maxAllocatedStorageGb": 200,
            "backupRetentionDays": 7,
            "multiAz": False,
            "deletionProtection": False,
            "finalSnapshot": False,
            "performanceInsights": False,
            "enhancedMonitoringSeconds": 0,
        },
        "api": {"cpu": 512, "memory": 1024, "desiredCount": 1, "minCount": 1, "maxCount": 4},
        "worker": {"cpu": 1024, "memory": 2048, "maxCount": 5, "spotWeight": 3, "onDemandWeight": 1},
        "ecs": {"containerInsights": False, "execEnabled": True},
        "monitoring": {"monthlyBudgetUsd": 400},
        "eks": {"enabled": True},
        "waf": {"enabled": True},
    },
    Environment.PROD: {
        "logRetentionDays": 30,
        "network": {"natStrategy": "gateway-per-az", "interfaceEndpoints": True},
        "database": {
            "instanceClass": "db.t4g.medium",
            "allocatedStorageGb": 100,
            "maxAllocatedStorageGb": 500,
            "backupRetentionDays": 30,
            "multiAz": True,
            "deletionProtection": True,
            "finalSnapshot": True,
            # Restarts and failovers wait for the maintenance window unless asked for.
            "applyImmediately": False,
            "performanceInsights": True,
            "enhancedMonitoringSeconds": 60,
        },
        "api": {"cpu": 1024, "memory": 2048, "desiredCount": 2, "minCount": 2, "maxCount": 10},
        "worker": {"cpu": 2048, "memory": 4096, "maxCount": 20, "spotWeight": 3, "onDemandWeight": 1},
        "ecs": {"containerInsights": True, "execEnabled": False, "forceDeleteRepositories": False},
        "monitoring": {"monthlyBudgetUsd": 1500},
        # Every control-plane log type: prod keeps the scheduler's and controller manager's
        # decisions for the post-mortem.
        "eks": {
            "enabled": True,
            "controlPlaneLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
            "prometheusVolumeGb": 50,
        },
        "waf": {"enabled": True},
        # Overwritten and deleted files stay recoverable (and AWS Backup can protect the bucket).
        "uploads": {"versioning": True},
        "cache": {"snapshotRetentionDays": 7},
        "backups": {"enabled": True},
    },
}

ZERO_SCALE: dict[str, Any] = {
    "logRetentionDays": 30,
    "api": {
        "memory": 2048,
        # The Lambda API: 10 requests at once is what a stack priced in dollars a month serves,
        # and caps the connections it opens to the external database. The stage lets 20
        # requests/s through, and a burst only as large as the concurrency, so a spike meets the
        # gateway's 429 instead of a 5xx from Lambda's own throttle.
        "lambdaReservedConcurrency": 10,
        "throttleRatePerSecond": 20,
        "throttleBurst": 10,
    },
    # One Fargate Spot task per message.
    "worker": {"cpu": 1024, "memory": 2048},
    # Container Insights bills per metric. The stack serves users from its repositories'
    # images: destroying it leaves them.
    "ecs": {"containerInsights": False, "forceDeleteRepositories": False},
    "monitoring": {"dashboard": False, "monthlyBudgetUsd": 10},
    "uploads": {"enabled": False},
}
"""Zero-scale's own defaults, on top of the common table's keys it has; no environment changes them."""


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` onto ``base``; lists and scalars are replaced whole."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def keys_of(model: type[BaseModel], document: dict[str, Any]) -> dict[str, Any]:
    """``document`` without the keys ``model`` does not have, section by section."""
    fields = {field.alias: field.annotation for field in model.model_fields.values()}
    kept: dict[str, Any] = {}
    for key, value in document.items():
        if key not in fields:
            continue
        section = fields[key]
        if isinstance(value, dict) and isinstance(section, type) and issubclass(section, Section):
            value = keys_of(section, value)
        kept[key] = value
    return kept


def defaults_for(environment: Environment, topology: Topology) -> dict[str, Any]:
    """The effective defaults of a stack before its own file is applied."""
    if topology is Topology.STANDARD:
        return merge(COMMON, BY_ENVIRONMENT[environment])
    return merge(keys_of(TOPOLOGY_MODELS[topology], COMMON), ZERO_SCALE)
