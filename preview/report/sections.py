"""Text and Markdown for the cost, preflight and diagram sections, and for a comparison.

Text is for a terminal (fixed-width columns); Markdown is for a pull-request
comment (tables, collapsed details, a ``mermaid`` block GitHub draws).
"""

from __future__ import annotations

from ..checks.preflight import RULE_TEXT, PreflightResult
from ..cost import CostEstimate, CostLine
from .compare import Comparison
from .diagram import Diagram

MAX_SETTINGS_SHOWN = 12


def usd(amount: float | None, places: int = 2) -> str:
    if amount is None:
        return "?"
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.{places}f}"


def signed_usd(amount: float) -> str:
    return ("+" if amount >= 0 else "-") + usd(abs(amount))


def _quantity(line: CostLine) -> str:
    price = "?" if line.unit_usd is None else f"${abs(line.unit_usd):.6g}"
    return f"{line.quantity:,.6g} {line.unit} x {price}"


def _item(line: CostLine) -> str:
    return ("~" if line.approximate else "") + line.item + (f" ({line.note})" if line.note else "")


def _job_lines(estimate: CostEstimate) -> list[str]:
    lines = []
    for job in estimate.jobs:
        extras = []
        if job.public_ipv4_usd:
            extras.append("public IPv4")
        if job.state_transitions:
            extras.append(f"{job.state_transitions} Step Functions transitions")
        included = f"; includes {' and '.join(extras)}" if extras else ""
        paid = job.spot_usd if job.as_configured == "spot" else job.on_demand_usd
        thousand = (
            f"; 1,000 jobs as configured: {usd(paid * 1000)}"
            if paid is not None and job.as_configured != "mixed"
            else ""
        )
        lines.append(
            f"{job.runner}: {job.architecture} {job.vcpu:g} vCPU / {job.memory_gb:g} GB for {job.minutes:g} min: "
            f"on-demand {usd(job.on_demand_usd, 4)}, Spot {usd(job.spot_usd, 4)} "
            f"(runs {'on Spot' if job.as_configured == 'spot' else job.as_configured}{included}){thousand}"
        )
    return lines


# -- cost ------------------------------------------------------------------------------
def cost_text(estimate: CostEstimate) -> str:
    out = [
        f"Idle monthly cost: {usd(estimate.total_usd)}"
        f"{'' if estimate.complete else ' + unpriced lines'} ({estimate.region}, list prices as of {estimate.as_of})"
    ]
    width = max((len(line.resource) for line in estimate.lines), default=8)
    for line in estimate.lines + estimate.credits:
        out.append(
            f"  {usd(line.monthly_usd):>10}  {line.component:<12} {line.resource:<{width}}  "
            f"{_item(line)}  [{_quantity(line)}]"
        )
    out.append(f"  {usd(estimate.total_usd):>10}  total at idle")
    if estimate.unpriced:
        out.append("  Not priced (add the price to preview/cost/prices.yaml):")
        out.extend(f"    - {text}" for text in estimate.unpriced)
    if estimate.scales_to_zero:
        out.append(f"  At zero tasks when idle: {', '.join(estimate.scales_to_zero)}")
    out.append("  Left out (billed per use):")
    out.extend(f"    - {text}" for text in estimate.left_out)
    out.append("  Assumptions:")
    out.extend(f"    - {text}" for text in estimate.assumptions)
    if estimate.jobs:
        out.append("One job: a worker run, or the migration once per release (billed per second, one-minute minimum):")
        out.extend(f"  {text}" for text in _job_lines(estimate))
    return "\n".join(out)


def cost_markdown(estimate: CostEstimate) -> str:
    out = [
        f"**Idle monthly cost: {usd(estimate.total_usd)}**{'' if estimate.complete else ' + unpriced lines'} "
        f"({estimate.region}, list prices as of {estimate.as_of}, {estimate.hours_per_month:g} h a month)",
        "",
        "| monthly | component | resource | item | quantity |",
        "|---:|---|---|---|---|",
    ]
    for line in estimate.lines + estimate.credits:
        resource = f"`{line.resource}`" if line.resource else ""
        out.append(f"| {usd(line.monthly_usd)} | {line.component} | {resource} | {_item(line)} | {_quantity(line)} |")
    out.append(f"| **{usd(estimate.total_usd)}** | | | **total at idle** | |")
    if estimate.unpriced:
        out += [
            "",
            "Not priced (add the price to `preview/cost/prices.yaml`):",
            *[f"- {text}" for text in estimate.unpriced],
        ]
    if estimate.jobs:
        out += [
            "",
            "One job: a worker run, or the migration once per release (billed per second, one-minute minimum):",
            *[f"- {text}" for text in _job_lines(estimate)],
        ]
    out += ["", "<details><summary>Left out and assumptions</summary>", ""]
    out += [f"- left out: {text}" for text in estimate.left_out]
    out += [f"- assumed: {text}" for text in estimate.assumptions]
    if estimate.scales_to_zero:
        out.append(f"- at zero tasks when idle: {', '.join(f'`{name}`' for name in estimate.scales_to_zero)}")
    out += ["", "</details>"]
    return "\n".join(out)


# -- preflight -----------------------------------------------------------------------------
def preflight_text(result: PreflightResult) -> str:
    status = "PASSED" if result.ok else f"FAILED, {len(result.findings)} problems"
    out = [f"Preflight: {status} ({sum(result.checked.values())} checks over {len(result.checked)} rules)"]
    failing = {finding.rule for finding in result.findings}
    for rule, count in result.checked.items():
        out.append(f"  {'FAIL' if rule in failing else 'ok':<4}  {rule:<26} {count:>4} checked  {RULE_TEXT[rule]}")
    for finding in result.findings:
        out.append(f"  [{finding.rule}] {finding.resource} ({finding.type}): {finding.message}")
    out.extend(f"  note: {note}" for note in result.notes)
    return "\n".join(out)


def preflight_markdown(result: PreflightResult) -> str:
    checks = sum(result.checked.values())
    if result.ok:
        out = [f"**Preflight: passed** ({checks} checks over {len(result.checked)} rules)"]
    else:
        out = [
            f"**Preflight: {len(result.findings)} problems** `pulumi up` would hit ({checks} checks)",
            "",
            "| rule | resource | type | problem |",
            "|---|---|---|---|",
            *[f"| {f.rule} | `{f.resource}` | `{f.type}` | {f.message.replace('|', '/')} |" for f in result.findings],
        ]
    out.extend(["", *[f"- note: {note}" for note in result.notes]] if result.notes else [])
    return "\n".join(out)


# -- diagram ---------------------------------------------------------------------------------
def diagram_text(diagram: Diagram) -> str:
    return "\n".join(["Flows (the Mermaid diagram: --diagram PATH)", *[f"  {flow}" for flow in diagram.flows()]])


def diagram_markdown(diagram: Diagram) -> str:
    return "\n".join(
        ["<details><summary>Diagram</summary>", "", "```mermaid", diagram.mermaid.rstrip(), "```", "", "</details>"]
    )


# -- compare -----------------------------------------------------------------------------------
def _value(value: object) -> str:
    return "(unset)" if value is None else repr(value) if not isinstance(value, str) else value


def compare_text(c: Comparison) -> str:
    def verdict(passed: bool) -> str:
        return "passed" if passed else "FAILED"

    out = [
        f"{c.before} -> {c.after}: what promoting {c.before}'s shape to {c.after} changes",
        f"  idle monthly cost: {usd(c.before_total_usd)} -> {usd(c.after_total_usd)} ({signed_usd(c.cost_delta_usd)})",
        f"  resources: {len(c.added)} added, {len(c.removed)} removed, {len(c.changed)} changed, "
        f"{c.unchanged} the same",
        f"  preflight: {c.before} {verdict(c.before_preflight_ok)}, {c.after} {verdict(c.after_preflight_ok)}",
        *[f"  note: {note}" for note in c.notes],
        "",
        "Cost differences (biggest first)",
        *[
            f"  {signed_usd(x.after_usd - x.before_usd):>11}  {x.component:<12} {x.resource}  "
            f"({usd(x.before_usd)} -> {usd(x.after_usd)})"
            for x in c.cost_changes
        ],
        "",
        f"Only in {c.after}",
        *[f"  + {token}  {name}" for token, name in c.added],
        "",
        f"Only in {c.before}",
        *[f"  - {token}  {name}" for token, name in c.removed],
        "",
        "Changed settings",
    ]
    for change in c.changed:
        out.append(f"  {change.type}  {change.name}")
        for setting in change.settings[:MAX_SETTINGS_SHOWN]:
            out.append(f"      {setting.path}: {_value(setting.before)} -> {_value(setting.after)}")
        if len(change.settings) > MAX_SETTINGS_SHOWN:
            out.append(f"      ... {len(change.settings) - MAX_SETTINGS_SHOWN} more (--format json lists all)")
    return "\n".join(out) + "\n"


def compare_markdown(c: Comparison) -> str:
    def ok(passed: bool) -> str:
        return "passed" if passed else "**failed**"

    out = [
        f"### `{c.before}` → `{c.after}`",
        "",
        f"| | `{c.before}` | `{c.after}` | change |",
        "|---|---:|---:|---:|",
        f"| idle monthly cost | {usd(c.before_total_usd)} | {usd(c.after_total_usd)} "
        f"| {signed_usd(c.cost_delta_usd)} |",
        f"| resources | | | +{len(c.added)} / -{len(c.removed)} / {len(c.changed)} changed |",
        f"| preflight | {ok(c.before_preflight_ok)} | {ok(c.after_preflight_ok)} | |",
        *[f"\n> {note}" for note in c.notes],
        "",
        "| cost change | component | resource | before | after |",
        "|---:|---|---|---:|---:|",
        *[
            f"| {signed_usd(x.after_usd - x.before_usd)} | {x.component} | `{x.resource}` "
            f"| {usd(x.before_usd)} | {usd(x.after_usd)} |"
            for x in c.cost_changes
        ],
        "",
        f"<details><summary>Only in {c.after} ({len(c.added)}) and only in {c.before} ({len(c.removed)})</summary>",
        "",
        *[f"- added `{token}` `{name}`" for token, name in c.added],
        *[f"- removed `{token}` `{name}`" for token, name in c.removed],
        "",
        "</details>",
        "",
        f"<details><summary>Changed settings ({len(c.changed)} resources)</summary>",
        "",
    ]
    for change in c.changed:
        out.append(f"- `{change.type}` `{change.name}`")
        out.extend(
            f"  - `{s.path}`: `{_value(s.before)}` → `{_value(s.after)}`" for s in change.settings[:MAX_SETTINGS_SHOWN]
        )
        if len(change.settings) > MAX_SETTINGS_SHOWN:
            out.append(f"  - ... {len(change.settings) - MAX_SETTINGS_SHOWN} more")
    out += ["", "</details>"]
    return "\n".join(out) + "\n"
