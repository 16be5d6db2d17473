"""The floor of a stack's preview: the same registrations with nothing else to do.

``python -m benchmarks.floor --write STACK GRAPH.json`` runs the stack and
writes what it registered (type, logical name, parent, provider of each
resource). ``python -m benchmarks.floor GRAPH.json`` declares exactly those
resources with trivial inputs (the SDK's own classes, so the same SDK modules
load; each required input a placeholder of its kind) under the same mocks and
harness, in a process that starts and ends like the preview's own. What the
preview takes beyond that is the program's and the preview's own work.
"""

from __future__ import annotations

import gc
import os
import sys

if __name__ == "__main__":
    # Started and ended as `python -m preview <stack>` is (see preview/__main__.py).
    gc.disable()

import importlib  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pulumi  # noqa: E402
from pulumi.runtime import rpc  # noqa: E402

from simulation.harness import StackRun, run_program, run_stack  # noqa: E402

Graph = dict[str, Any]


def graph(run: StackRun) -> Graph:
    """What ``run`` registered, each resource naming its parent and provider by index."""
    index = {resource.urn: position for position, resource in enumerate(run.resources)}
    return {
        "stack": run.stack,
        "region": run.config.region if run.config else "us-east-1",
        "resources": [
            {
                "type": resource.type,
                "name": resource.name,
                "custom": resource.custom,
                "parent": index.get(resource.parent or ""),
                # A provider reference is "<provider urn>::<provider id>".
                "provider": index.get(resource.provider.rsplit("::", 1)[0]) if resource.provider else None,
            }
            for resource in run.resources
        ],
    }


def resource_class(token: str) -> tuple[type[pulumi.Resource], dict[str, Any]]:
    """The SDK class registered for ``token``, and fixed arguments it needs (a custom resource's kind)."""
    package = token.split(":")[2] if token.startswith("pulumi:providers:") else token.split(":")[0]
    importlib.import_module(f"pulumi_{package}")
    if token.startswith("pulumi:providers:"):
        info = rpc.get_resource_package(package, "").pkg_info
        return getattr(importlib.import_module(info["fqn"]), info["class"]), {}
    _, module_name, kind = token.split(":")
    module = rpc.get_resource_module(package, module_name, "")
    if module is None and package == "kubernetes":
        # Custom resources (Istio, the Prometheus operator ...) have no class of their own.
        from pulumi_kubernetes.apiextensions import CustomResource

        return CustomResource, {"api_version": module_name, "kind": kind}
    if module is None:
        raise LookupError(f"no SDK class is registered for {token}")
    info = module.mod_info
    return getattr(importlib.import_module(info["fqn"]), info["classes"][token]), {}


def placeholder(annotation: Any) -> Any:
    """A trivial value of the kind an input's annotation asks for."""
    text = str(annotation)
    if "Sequence" in text:
        return []
    if "str" in text:
        return "x"
    if "Mapping" in text or "Args" in text:
        return {}
    if "bool" in text:
        return False
    if "int" in text or "float" in text:
        return 0
    return "x"


def required_inputs(cls: type[pulumi.Resource]) -> dict[str, Any]:
    """A placeholder for each input the resource's args class (``<Class>Args``, ``<Class>InitArgs``) requires."""
    module = inspect.getmodule(cls)
    args = getattr(module, f"{cls.__name__}InitArgs", None) or getattr(module, f"{cls.__name__}Args", None)
    if args is None:
        return {}
    return {
        name: placeholder(parameter.annotation)
        for name, parameter in inspect.signature(args.__init__).parameters.items()
        if parameter.default is inspect.Parameter.empty and parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }


def declare(floor: Graph) -> None:
    """Register every resource of ``floor``, parents and providers before what they own."""
    entries = floor["resources"]
    declared: dict[int, pulumi.Resource] = {}

    def declare_one(position: int) -> pulumi.Resource:
        if position in declared:
            return declared[position]
        entry = entries[position]
        parent = declare_one(entry["parent"]) if entry["parent"] is not None else None
        provider = declare_one(entry["provider"]) if entry["provider"] is not None else None
        opts = pulumi.ResourceOptions(parent=parent, provider=provider)
        if entry["custom"]:
            cls, fixed = resource_class(entry["type"])
            declared[position] = cls(entry["name"], opts=opts, **{**required_inputs(cls), **fixed})
        else:
            component = pulumi.ComponentResource(entry["type"], entry["name"], None, opts)
            component.register_outputs({})
            declared[position] = component
        return declared[position]

    for position in range(len(entries)):
        declare_one(position)


def run_floor(floor: Graph) -> StackRun:
    return run_program(lambda: declare(floor), stack=floor["stack"], config={"aws:region": floor["region"]})


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "--write":
        Path(argv[2]).write_text(json.dumps(graph(run_stack(argv[1]))))
    elif len(argv) == 1:
        run_floor(json.loads(Path(argv[0]).read_text()))
    else:
        print("usage: python -m benchmarks.floor [--write STACK] GRAPH.json", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
