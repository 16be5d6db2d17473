"""One stack's full offline preview: the report with its cost, preflight and diagram sections.

Stack-wide facts (region, environment, topology, the Kubernetes version) come
from the validated configuration the program loaded (``StackRun.config``),
never from the raw stack file, so they carry the same defaults the program
used.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulation.harness import StackRun

from .checks.preflight import PreflightResult, preflight
from .cost import CostEstimate, estimate
from .report.diagram import Diagram, build_diagram
from .report.model import Report, build_report

EKS_CLUSTER = "aws:eks/cluster:Cluster"


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


def kubernetes_version(run: StackRun) -> str | None:
    """The cluster's Kubernetes version: the EKS cluster's input, else the stack's ``eks.kubernetesVersion``."""
    for cluster in run.of_type(EKS_CLUSTER):
        if cluster.inputs.get("version"):
            return str(cluster.inputs["version"])
    return run.config.eks.kubernetes_version if run.config and run.config.is_standard else None


def analyse(run: StackRun, *, region: str | None = None, job_minutes: float = 10, free_tier: bool = True) -> Analysis:
    """Build the report of ``run`` and attach the ``cost``, ``preflight`` and ``diagram`` sections.

    ``region`` is for a run that carries no validated configuration (another project's
    program, such as the bootstrap's): the region its report names and its prices are for.
    """
    report = build_report(run)
    if region is not None:
        report.region = region
    report.sections["cost"] = estimate(
        run,
        default_region=region or (run.config.region if run.config else "us-east-1"),
        job_minutes=job_minutes,
        free_tier=free_tier,
    )
    checks = preflight(run, kubernetes_version(run))
    # How the run was made (a stand-in for another project's outputs) qualifies every check.
    checks.notes[:0] = run.notes
    report.sections["preflight"] = checks
    report.sections["diagram"] = build_diagram(run)
    return Analysis(run, report)
