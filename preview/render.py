"""Renderers of a :class:`Report`: text for a terminal, JSON for tools.

A section attached to ``Report.sections`` is rendered by the function
registered for its name in ``TEXT_SECTIONS``; one without a renderer is shown
as JSON so nothing attached is ever silently dropped.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from .report import Report

TEXT_SECTIONS: dict[str, Callable[[Any], str]] = {}


def _settings(settings: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v}" for k, v in settings.items())


def render_text(report: Report) -> str:
    lines = [
        f"Stack {report.stack}: {report.topology} topology, {report.environment} sizes, {report.region}",
        f"{sum(report.counts.values())} resources would be created (offline preview under Pulumi mocks; nothing was sent to AWS)",
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


RENDERERS: dict[str, Callable[[Report], str]] = {"text": render_text, "json": render_json}
