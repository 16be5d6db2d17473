"""Every default of the stack configuration, per environment and topology.

A stack file sets only what differs from these tables. The effective value of
a key is, from strongest to weakest: the stack file, the zero-scale overlay
(for ``topology: zero-scale``), the environment's table, the common table.
"""

from __future__ import annotations

from typing import Any

from .model import Environment, Topology

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
        # Zero-scale's Lambda API: 10 requests at once is what a stack priced in dollars a month
        # serves, and caps the connections it opens to the external database. The stage lets
        # 20 requests/s through, and a burst only as large as the concurrency, so a spike meets
        # the gateway's 429 instead of a 5xx from Lambda's own throttle.
        "lambdaReservedConcurrency": 10,
        "throttleRatePerSecond": 20,
        "throttleBurst": 10,
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
        # Graviton: t4g.medium is the t3.medium equivalent at about 20% less.
        "nodeInstanceType": "t4g.medium",
        "nodeCount": 3,
        "nodeMaxCount": 6,
        "spotNodeGroup": False,
        # Same size (2 vCPU, 4 GiB) and architecture in three Spot pools.
        "spotInstanceTypes": ["t4g.medium", "c6g.large", "c7g.large"],
        "spotNodeCount": 2,
        "adminRoleArns": [],
        "publicAccessCidrs": [],
        "prometheusRetentionDays": 15,
        "prometheusVolumeGb": 0,
        # Every service's sidecar samples this share of requests into Jaeger, which keeps
        # spans retentionHours on a volumeGb volume.
        "tracing": {"enabled": False, "samplingPercent": 1, "retentionHours": 72, "volumeGb": 10},
        "kiali": {"enabled": False, "viewOnly": True},
        # Graviton only (the images are arm64). Spot is tried first (higher weight) by the
        # services that tolerate it; on-demand `general` carries the platform and the rest.
        "nodePools": {
            "general": {
                "instanceFamilies": ["m7g", "m6g", "c7g", "t4g"],
                "instanceSizes": ["medium", "large", "xlarge"],
                "cpuLimit": 32,
                "memoryLimitGib": 128,
                "consolidateAfterSeconds": 300,
                "disruptionBudgetPercent": 10,
                "weight": 10,
            },
            "spot": {
                "instanceFamilies": ["m7g", "m6g", "c7g", "c6g", "r7g", "t4g"],
                "instanceSizes": ["medium", "large", "xlarge", "2xlarge"],
                "cpuLimit": 32,
                "memoryLimitGib": 128,
                "consolidateAfterSeconds": 60,
                "disruptionBudgetPercent": 20,
                "weight": 50,
            },
        },
        "services": [],
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
        "eks": {
            "enabled": True,
            "nodeInstanceType": "t4g.medium",
            "nodeCount": 3,
            "nodeMaxCount": 6,
            "tracing": {"enabled": True, "samplingPercent": 10, "retentionHours": 72, "volumeGb": 10},
            "kiali": {"enabled": True},
        },
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
        "ecs": {"containerInsights": True, "execEnabled": False},
        "monitoring": {"monthlyBudgetUsd": 1500},
        # t4g.large is the t3.large equivalent; six nodes spread over the AZs.
        "eks": {
            "enabled": True,
            "nodeInstanceType": "t4g.large",
            "nodeCount": 6,
            "nodeMaxCount": 12,
            "spotInstanceTypes": ["t4g.large", "m6g.large", "m7g.large"],
            "prometheusVolumeGb": 50,
            "tracing": {"enabled": True, "samplingPercent": 1, "retentionHours": 168, "volumeGb": 20},
            "kiali": {"enabled": True},
            "nodePools": {
                "general": {"cpuLimit": 64, "memoryLimitGib": 256},
                "spot": {"cpuLimit": 64, "memoryLimitGib": 256},
            },
        },
    },
}

ZERO_SCALE_OVERLAY: dict[str, Any] = {
    "network": {"natStrategy": "none", "interfaceEndpoints": False},
    # One task per message on Spot only; Container Insights bills per metric.
    "worker": {"cpu": 1024, "memory": 2048, "maxCount": 50, "spotWeight": 1, "onDemandWeight": 0},
    "ecs": {"containerInsights": False, "execEnabled": False},
    "monitoring": {"dashboard": False, "monthlyBudgetUsd": 10},
    "eks": {"enabled": False},
}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` onto ``base``; lists and scalars are replaced whole."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def defaults_for(environment: Environment, topology: Topology) -> dict[str, Any]:
    """The effective defaults of a stack before its own file is applied."""
    layered = merge(COMMON, BY_ENVIRONMENT[environment])
    if topology is Topology.ZERO_SCALE:
        layered = merge(layered, ZERO_SCALE_OVERLAY)
    return layered
