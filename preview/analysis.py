"""One stack's full offline preview: the report with its cost, preflight and diagram sections."""

from __future__ import annotations

import json
from dataclasses import dataclass

from simulation.harness import PROJECT, StackRun
from stackconfig.defaults import COMMON

from .checks.preflight import PreflightResult, preflight
from .cost import CostEstimate, estimate
from .report.diagram import Diagram, build_diagram
from .report.model import Report, build_report

EKS_CLUSTERS = ("aws:eks/cluster:Cluster", "eks:index:Cluster")


@dataclass
class Analysis:
    run: StackRun
    report: Report

    @property
    def cost(self) -> CostEstimate:
        return self.report.sections["cost"]

    @property
    def preflight(self) -> PreflightResult:
        return self.report.sections["preflight"]

    @property
    def diagram(self) -> Diagram:
        return self.report.sections["diagram"]


def kubernetes_version(run: StackRun, config: dict[str, str]) -> str:
    """The cluster's Kubernetes version: the EKS cluster's input, else the stack's eks config, else the default."""
    for token in EKS_CLUSTERS:
        for cluster in run.of_type(token):
            if cluster.inputs.get("version"):
                return str(cluster.inputs["version"])
    try:
        eks = json.loads(config.get(f"{PROJECT}:eks", "{}"))
    except ValueError:
        eks = {}
    return str(eks.get("kubernetesVersion") or COMMON["eks"]["kubernetesVersion"])


def analyse(run: StackRun, config: dict[str, str], *, job_minutes: float = 10, free_tier: bool = True) -> Analysis:
    """Build the report of ``run`` and attach the ``cost``, ``preflight`` and ``diagram`` sections."""
    report = build_report(run, config)
    report.sections["cost"] = estimate(
        run, default_region=config.get("aws:region", "us-east-1"), job_minutes=job_minutes, free_tier=free_tier
    )
    report.sections["preflight"] = preflight(run, kubernetes_version(run, config))
    report.sections["diagram"] = build_diagram(run)
    return Analysis(run, report)
