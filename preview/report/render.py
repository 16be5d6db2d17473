"""Renderers of a :class:`Report`: text for a terminal, JSON for tools, Markdown for a pull request.

A section attached to ``Report.sections`` is rendered by the function
registered for its name in ``TEXT_SECTIONS``; one without a renderer is shown
as JSON so nothing attached is ever silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import sections
from .model import Report

TEXT_SECTIONS: dict[str, Callable[[Any], str]] = {
    "cost": sections.cost_text,
    "preflight": sections.preflight_text,
    "diagram": sections.diagram_text,
}
MARKDOWN_SECTIONS: dict[str, Callable[[Any], str]] = {
    "cost": sections.cost_markdown,
    "preflight": sections.preflight_markdown,
    "diagram": sections.diagram_markdown,
}
# Markdown puts what blocks a merge first and the long parts last.
MARKDOWN_ORDER = ("preflight", "policy", "cost", "security")


def _policy_text(section: dict[str, Any]) -> str:
    """The policy pack's verdict: violations first, then advisories, each with its resource."""
    verdict = "FAILED" if section["violations"] else "passed"
    lines = [
        f"Policy pack {section['pack']}: {verdict} — {section['rules']} rules "
        f"({section['mandatory_rules']} mandatory), {section['violations']} mandatory violation(s), "
        f"{section['advisories']} advisory finding(s)"
    ]
    for finding in section["findings"]:
        lines.append(f"  {finding['enforcement'].upper():<9} {finding['rule']}  [{finding['name']}]")
        lines.append(f"  {'':<9} {finding['message']}")
    return "\n".join(lines)


def _policy_markdown(section: dict[str, Any]) -> str:
    verdict = "**failed**" if section["violations"] else "passed"
    lines = [
        f"### Policy pack `{section['pack']}`: {verdict}",
        "",
        f"{section['rules']} rules ({section['mandatory_rules']} mandatory): {section['violations']} mandatory "
        f"violation(s), {section['advisories']} advisory finding(s).",
    ]
    if section["findings"]:
        lines += ["", "| level | rule | resource | finding |", "|---|---|---|---|"]
        lines += [
            f"| {f['enforcement']} | `{f['rule']}` | `{f['name']}` | {_markdown_cell(f['message'])} |"
            for f in section["findings"]
        ]
    return "\n".join(lines)


def _deviation_note(deviation: dict[str, Any]) -> str:
    refs = [*deviation["controls"], *([f"relaxes {deviation['rule']}"] if deviation["rule"] else [])]
    return f" ({', '.join(refs)})" if refs else ""


def _security_text(section: dict[str, Any]) -> str:
    """The stack key's users, then the named exceptions in effect on the stack."""
    users = section["stack_key_users"]
    lines = [f"Stack key: {len(users)} resource(s) use it"]
    width = max((len(user["type"]) for user in users), default=0)
    lines += [f"  {user['type']:<{width}}  {user['name']}  [{', '.join(user['fields'])}]" for user in users]
    deviations = section["deviations"]
    lines += ["", f"Deviations in effect (named exceptions, docs/security.md): {len(deviations)}"]
    for deviation in deviations:
        lines.append(f"  {deviation['name']}{_deviation_note(deviation)}")
        lines.append(f"    {deviation['what']}; why: {deviation['why']}; where: {deviation['where']}")
    return "\n".join(lines)


def _security_markdown(section: dict[str, Any]) -> str:
    users, deviations = section["stack_key_users"], section["deviations"]
    lines = [
        "### Security",
        "",
        f"<details><summary>The stack key: {len(users)} resource(s) use it</summary>",
        "",
        "| type | name | fields |",
        "|---|---|---|",
        *(f"| `{u['type']}` | `{u['name']}` | {', '.join(u['fields'])} |" for u in users),
        "",
        "</details>",
        "",
        f"Deviations in effect ({len(deviations)}, named exceptions of the policy pack, docs/security.md):",
        "",
        "| exception | controls | what | why | where |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| `{d['name']}` | {', '.join(d['controls']) or '—'} | {_markdown_cell(d['what'])} | "
        f"{_markdown_cell(d['why'])} | {_markdown_cell(d['where'])} |"
        for d in deviations
    ]
    return "\n".join(lines)


TEXT_SECTIONS["policy"] = _policy_text
MARKDOWN_SECTIONS["policy"] = _policy_markdown
TEXT_SECTIONS["security"] = _security_text
MARKDOWN_SECTIONS["security"] = _security_markdown


def _settings(settings: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v}" for k, v in settings.items())


def render_text(report: Report) -> str:
    lines = [
        f"Stack {report.stack}: {report.topology} topology, {report.environment} sizes, {report.region}",
        f"{sum(report.counts.values())} resources would be created "
        "(offline preview under Pulumi mocks; nothing was sent to AWS)",
        "",
    ]
    for group in report.components:
        lines.append(f"{group.type} {group.name}  ({len(group.resources)} resources)")
        for resource in group.resources:
            kind = resource.type.split(":")[-1]
            marker = " [protected]" if resource.protect else ""
            lines.append(f"  {kind:<26} {resource.name}{marker}")
            if resource.settings:
                lines.append(f"  {'':<26}   {_settings(resource.settings)}")
        lines.append("")
    lines.append("Resources by type")
    width = max((len(t) for t in report.counts), default=0)
    lines.extend(f"  {count:>3}  {token:<{width}}" for token, count in report.counts.items())
    for name, section in report.sections.items():
        lines.append("")
        renderer = TEXT_SECTIONS.get(name)
        lines.append(renderer(section) if renderer else f"{name}\n{json.dumps(section, indent=2, default=str)}")
    lines.append("")
    lines.append("Stack outputs")
    lines.extend(f"  {key}: {json.dumps(value, default=str)}" for key, value in report.outputs.items())
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    return report.to_json() + "\n"


def _markdown_cell(value: Any) -> str:
    return str(value).replace("|", "/").replace("\n", " ")


def render_markdown(report: Report) -> str:
    """A pull-request comment: preflight, cost, other sections, the diagram, then resources collapsed."""
    total = sum(report.counts.values())
    lines = [
        f"## Offline preview of `{report.stack}`",
        "",
        f"{report.topology} topology, {report.environment} sizes, {report.region}: {total} resources "
        "(offline, under Pulumi mocks; nothing was sent to AWS)",
    ]
    names = [n for n in MARKDOWN_ORDER if n in report.sections] + [
        n for n in report.sections if n not in MARKDOWN_ORDER
    ]
    for name in names:
        renderer = MARKDOWN_SECTIONS.get(name)
        if renderer:
            body = renderer(report.sections[name])
        else:
            shown = json.dumps(report.sections[name], indent=2, default=str)
            body = f"<details><summary>{name}</summary>\n\n```json\n{shown}\n```\n\n</details>"
        lines += ["", body]
    lines += [
        "",
        f"<details><summary>Resources ({total})</summary>",
        "",
        "| component | type | name | settings |",
        "|---|---|---|---|",
    ]
    for group in report.components:
        for resource in group.resources:
            settings = _markdown_cell(_settings(resource.settings))
            protect = " (protected)" if resource.protect else ""
            lines.append(f"| {group.type} | `{resource.type}` | `{resource.name}`{protect} | {settings} |")
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[Report], str]] = {"text": render_text, "json": render_json, "markdown": render_markdown}
