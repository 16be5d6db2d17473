"""preview/mesh_capacity.py: the nodes Karpenter runs at idle, packed from the pods' requests."""

from __future__ import annotations

import pytest

from preview.analysis import analyse
from preview.mesh_capacity import DAEMONSETS, Pod, pack, reserved, shape
from preview.report.docs import released_overrides
from simulation.harness import run_stack

HOURS = 730


def test_shapes_follow_the_family_and_size():
    assert (shape("m7g.large").cpu_m, shape("m7g.large").memory_mi) == (2000, 8192)
    assert (shape("c7g.xlarge").cpu_m, shape("c7g.xlarge").memory_mi) == (4000, 8192)
    assert (shape("r7g.medium").cpu_m, shape("r7g.medium").memory_mi) == (1000, 8192)
    assert (shape("t4g.medium").cpu_m, shape("t4g.medium").memory_mi, shape("t4g.medium").max_pods) == (2000, 4096, 17)
    assert shape("m7g.metal") is None


def test_the_kubelet_keeps_cpu_and_memory_back():
    # t4g.medium: 6% of the first core + 1% of the second; 255 MiB + 11 MiB x 17 pods + 100 MiB eviction.
    assert reserved(shape("t4g.medium")) == (70, 255 + 187 + 100)


def test_pods_are_packed_first_fit_by_decreasing_cpu():
    node = shape("t4g.medium")
    overhead = (230, 156)  # the daemonsets' requests
    pods = [Pod("api", 550, 1152)] * 3 + [Pod("istiod", 250, 512)] * 2
    # 1700m and 3398 MiB per node: memory keeps the third api pod off the first node, which
    # still takes both istiod pods; the third api pod opens the second.
    assert pack(pods, node, overhead, len(DAEMONSETS) + 1) == 2
    assert pack([Pod("huge", 4000, 1024)], node, overhead, 5) is None


@pytest.fixture(scope="module")
def prod_cost():
    return analyse(run_stack("prod", released_overrides("prod"))).cost


def test_prod_idle_nodes_are_two_on_demand_and_two_spot_t4g_medium(prod_cost):
    lines = {line.item: line for line in prod_cost.lines if line.component == "mesh/Karpenter"}
    general = lines["Karpenter general nodes t4g.medium x 2 on-demand (estimate)"]
    spot = lines["Karpenter spot nodes t4g.medium x 2 Spot (estimate)"]
    assert general.monthly_usd == pytest.approx(2 * HOURS * 0.0336)
    # The Spot share at the table's 60% discount.
    assert spot.monthly_usd == pytest.approx(2 * HOURS * 0.0336 * 0.4)
    assert "spread over 2 zones" in spot.note
    assert lines["Karpenter general node volumes 30 GB x 2"].monthly_usd == pytest.approx(60 * 0.08)


def test_prod_mesh_costs_stay_small_enough_for_the_stack_target(prod_cost):
    mesh = sum(line.monthly_usd for line in prod_cost.lines if line.component.startswith("mesh/"))
    # With the base stack's control plane ($73) and two t4g.medium system nodes ($49) the mesh
    # adds about $220 to prod; the stack's whole idle target is $600.
    assert mesh == pytest.approx(100.31, abs=0.01)
    assert any("Karpenter nodes: the idle pods" in note for note in prod_cost.assumptions)
