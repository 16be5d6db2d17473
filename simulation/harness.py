"""Run the program (or any piece of it) under Pulumi mocks and record what it declares.

Used by the offline preview, the policy pack's offline runner and the tests
alike: one way of running the program, so what the tests assert is what a
reviewer sees. Every run gets a fresh event loop and fresh runtime settings;
nothing leaks between runs.

The API:

* :func:`run_program` runs any callable that declares resources, with the
  given config set first, and returns a :class:`StackRun`;
* :func:`run_stack` runs the whole program (``__main__.py``) for a committed
  stack file with some keys overridden; each distinct run is made once per
  process, and once per test session when :func:`share_runs` names a
  directory the processes share;
* :class:`StackRun` holds the :class:`RecordedResource` s in a canonical
  order, the stack outputs, and the validated :class:`~stackconfig.StackConfig`
  the program loaded.

Python's cyclic garbage collector never runs during a run: the SDK's lazily
imported classes and the run's own objects would be walked again and again
for nothing. When the collector was on, one collection after the run frees
what it left behind and freezes what survives (imported modules, cached runs),
so no later collection walks those again; a process that switches the
collector off itself (the one-stack preview, which exits right after) skips
that collection too.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import gc
import hashlib
import json
import os
import pickle
import runpy
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import get_root_resource, reset_options, set_root_resource
from pulumi.runtime.stack import wait_for_rpcs

from .mocks import FlowbuilderMocks

if TYPE_CHECKING:
    from stackconfig import StackConfig

ROOT = Path(__file__).resolve().parent.parent
# The program imports its own packages (components, stackconfig) from the project root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from stackconfig import read_project  # noqa: E402 - needs the project root on sys.path

PROJECT = read_project(ROOT).name
MESH_DIR = ROOT / "mesh"
MESH_PROJECT = read_project(MESH_DIR).name
"""The Kubernetes layer, its own Pulumi project (``mesh/``) reading the base stack by StackReference."""
STACKS = ("dev", "staging", "prod", "ultra")
"""The committed stacks, in promotion order."""


def stacks(directory: Path = ROOT) -> list[str]:
    """The stacks whose ``Pulumi.<stack>.yaml`` is present for the project in ``directory``:
    the committed ones in promotion order, then any other by name."""
    return sorted(
        read_project(directory).stacks(),
        key=lambda stack: (STACKS.index(stack) if stack in STACKS else len(STACKS), stack),
    )


@dataclass
class RecordedResource:
    """One resource registration as the engine would receive it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    state: dict[str, Any]
    protect: bool = False
    provider: str = ""
    ignore_changes: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    secret_inputs: frozenset[str] = frozenset()
    """Paths (``a.b[0].c``) of inputs that were Pulumi secrets; ``inputs`` holds them unwrapped."""
    secret_state: frozenset[str] = frozenset()
    """Paths of state values that were Pulumi secrets."""

    @property
    def id(self) -> str:
        return self.state.get("id", "")


@dataclass
class StackRun:
    """Everything one run declared, and the stack outputs.

    ``resources`` are in a canonical order (type token, logical name, URN), and
    every recorded mapping has its keys sorted: registrations complete in an
    order that depends on when outputs resolve and the engine's wire format has
    no key order of its own, so neither is kept, and everything built from a
    run comes out the same on every run and machine.
    """

    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    config: StackConfig | None = None
    """The validated configuration the program loaded (``run_stack``); None for other programs."""
    mesh_outputs: dict[str, Any] | None = None
    """The mesh project's stack outputs, when the run includes it (its resources are in ``resources``)."""
    notes: list[str] = field(default_factory=list)
    """What a reader of the run should know about how it was made."""

    def of_type(self, token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == token]

    def one(self, token: str, name: str | None = None) -> RecordedResource:
        """The single resource of a type (whose logical name ends with ``name``, if given)."""
        found = [r for r in self.of_type(token) if name is None or r.name.endswith(name)]
        if len(found) != 1:
            raise AssertionError(f"expected one {token} named *{name or ''}, found {[r.name for r in found]}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource | None:
        """The resource registered under ``urn``; None for the stack itself."""
        return next((r for r in self.resources if r.urn == urn), None)

    def children(self, parent: RecordedResource) -> Iterator[RecordedResource]:
        return (r for r in self.resources if r.parent == parent.urn)

    def component_of(self, resource: RecordedResource) -> RecordedResource | None:
        """The nearest enclosing component (our ``flowbuilder:index:*`` types)."""
        owner = self.by_urn(resource.parent) if resource.parent else None
        while owner is not None and not owner.type.startswith(f"{PROJECT}:"):
            owner = self.by_urn(owner.parent) if owner.parent else None
        return owner

    def output_id(self, stack_output: str) -> Any:
        return self.outputs[stack_output]


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping each registration's options (parent, protect, ...)."""

    def __init__(self, mocks: FlowbuilderMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        registration = self.resources[response.urn]
        inputs = rpc.deserialize_properties(request.object)
        self.recorded.append(
            RecordedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=request.custom,
                inputs=_plain(inputs),
                state={**_plain(registration.state), "id": registration.id or ""},
                protect=request.protect,
                provider=request.provider,
                ignore_changes=list(request.ignoreChanges),
                depends_on=sorted(request.dependencies),
                delete_before_replace=request.deleteBeforeReplace,
                retain_on_delete=request.retainOnDelete,
                secret_inputs=frozenset(secret_paths(inputs)),
                secret_state=frozenset(secret_paths(registration.state)),
            )
        )
        return response


def _plain(value: Any) -> Any:
    """Drop Pulumi's wire markers (secrets stay their values; see ``secret_paths``)."""
    if isinstance(value, dict):
        if _is_secret(value):
            return _plain(value["value"])
        return {key: _plain(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def secret_paths(value: Any, path: str = "") -> Iterator[str]:
    """The paths (``a.b[0].c``) inside ``value`` that hold Pulumi secrets, outermost only."""
    if _is_secret(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from secret_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from secret_paths(item, f"{path}[{index}]")


def read_stack_file(stack: str, directory: Path = ROOT) -> dict[str, str]:
    """The ``config:`` block of ``Pulumi.<stack>.yaml`` as the CLI would pass it (JSON for objects),
    read strictly (``stackconfig.stackfile``): a file the CLI would refuse raises ``StackFileError``."""
    return read_project(directory).read_stack(stack).config


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside; after it, one collection and a freeze (see the module docstring)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.freeze()
        gc.enable()


def run_program(
    program: Callable[[], Any],
    *,
    stack: str,
    config: dict[str, str],
    secret_keys: tuple[str, ...] = (),
    project: str = PROJECT,
    stack_outputs: dict[str, dict[str, Any]] | None = None,
) -> StackRun:
    """Run ``program`` under mocks with ``config`` set first; record every registration.

    ``project`` is the Pulumi project the run belongs to (its URNs and config namespace):
    the main program's by default, ``flowbuilder-bootstrap`` for the bootstrap program.
    ``stack_outputs`` answers StackReferences: the outputs of each stack by its full name.
    """
    with _collector_paused():
        return _run(program, stack, config, secret_keys, project, stack_outputs)


def _run(
    program: Callable[[], Any],
    stack: str,
    config: dict[str, str],
    secret_keys: tuple[str, ...],
    project: str,
    stack_outputs: dict[str, dict[str, Any]] | None = None,
) -> StackRun:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # At every registration the SDK walks the whole Python stack (source lines, file URIs) to tell
    # the engine where the resource was declared; the mocks never read it, and under pytest the
    # stack is deep. An empty trace for the length of the run.
    stack_trace = pulumi_resource._get_stack_trace
    pulumi_resource._get_stack_trace = source_pb2.StackTrace
    try:
        pulumi.runtime.set_all_config(dict(config), list(secret_keys))
        mocks = FlowbuilderMocks(region=config.get("aws:region", "us-east-1"), stack_outputs=stack_outputs)
        monitor = _RecordingMonitor(mocks)
        # set_mocks only creates a Stack when none exists; without this, a run would
        # reuse the previous run's Stack and report its exports as its own.
        set_root_resource(None)
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
        try:
            program()
        except BaseException:
            # Let registrations already in flight finish so the loop closes clean;
            # the program's own error is the one worth reporting.
            with contextlib.suppress(Exception):
                loop.run_until_complete(wait_for_rpcs())
            raise
        loop.run_until_complete(wait_for_rpcs())
        outputs, secret_outputs = {}, set()
        for key, value in get_root_resource().outputs.items():
            output = pulumi.Output.from_input(value)
            outputs[key] = loop.run_until_complete(output.future())
            if loop.run_until_complete(output.is_secret()):
                secret_outputs.add(key)
        resources = sorted(monitor.recorded, key=lambda r: (r.type, r.name, r.urn))
        return StackRun(stack, resources, outputs, secret_outputs)
    finally:
        pulumi_resource._get_stack_trace = stack_trace
        # The mock monitor runs in executor threads that make loops of their
        # own; joining them here closes those loops while their files are open.
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)
        # Drop the runtime's hold on this run (its Stack, monitor and mocks), so that
        # what the run leaves behind is garbage now rather than after the next run.
        reset_options(project=project, stack=stack)


def stack_config(stack: str, overrides: dict[str, Any] | None = None, directory: Path = ROOT) -> dict[str, str]:
    """A stack's config with some keys replaced (``None`` removes a key)."""
    return _with_overrides(read_stack_file(stack, directory), overrides)


def _with_overrides(config: dict[str, str], overrides: dict[str, Any] | None) -> dict[str, str]:
    config = dict(config)
    for key, value in (overrides or {}).items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value if isinstance(value, str) else json.dumps(value)
    return config


def run_main(directory: Path = ROOT) -> dict[str, Any]:
    """A Pulumi program (the base one by default), as the language host runs it; returns its module namespace."""
    return runpy.run_path(str(directory / "__main__.py"), run_name="__main__")


def base_reference(stack: str) -> str:
    """The StackReference name the mesh project reads the base stack by (no organization under mocks)."""
    return f"organization/{PROJECT}/{stack}"


def run_mesh(
    stack: str, config: dict[str, str], base_outputs: dict[str, Any], secret_keys: tuple[str, ...] = ()
) -> StackRun:
    """The mesh project for ``stack``, its StackReference answered with ``base_outputs``."""
    with _collector_paused():
        return _run(
            lambda: run_main(MESH_DIR),
            stack,
            config,
            secret_keys,
            MESH_PROJECT,
            {base_reference(stack): base_outputs},
        )


def run_stack(
    stack: str,
    overrides: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    directory: Path = ROOT,
) -> StackRun:
    """Run the whole program for a stack, optionally overriding config keys.

    ``directory`` holds ``Pulumi.yaml`` and the stack files (``python -m preview -C DIR``); the
    program always comes from this repository. A run depends only on the files and these
    arguments (the mocks are deterministic), so each distinct run is made once per process (and
    once for all processes sharing a directory, see :func:`share_runs`) and
    shared: treat the returned :class:`StackRun` as read-only.
    """
    return _run_stack_once(
        stack,
        json.dumps(overrides or {}, sort_keys=True),
        json.dumps(secrets or {}, sort_keys=True),
        str(directory),
    )


@functools.cache
def _run_stack_once(stack: str, overrides_json: str, secrets_json: str, directory: str) -> StackRun:
    build = functools.partial(_run_stack, stack, json.loads(overrides_json), json.loads(secrets_json), Path(directory))
    if _shared is None:
        return build()
    return _shared.get(f"{stack}\0{overrides_json}\0{secrets_json}\0{directory}", build)


def _run_stack(stack: str, overrides: dict[str, Any], secrets: dict[str, str], directory: Path) -> StackRun:
    project = read_project(directory)
    stack_file = project.read_stack(stack)
    config = _with_overrides(stack_file.config, overrides)
    config.update(secrets)
    # Offline, a secure: value is a placeholder; it is still handed over as a secret.
    secret_keys = tuple(sorted(set(secrets) | (stack_file.secret_keys & set(config))))
    with _collector_paused():
        namespace: dict[str, Any] = {}
        run = _run(lambda: namespace.update(run_main()), stack, config, secret_keys, project.name)
        run.config = _loaded_config(namespace)
        # The program's globals hold its resources; gone before the collection, they are its garbage.
        namespace.clear()
    if run.config is not None and run.config.is_standard and run.config.eks.enabled:
        _add_mesh(run, config, secret_keys)
    return run


def _add_mesh(run: StackRun, config: dict[str, str], secret_keys: tuple[str, ...]) -> None:
    """Run the mesh project after the base one, as the release does, and add what it declares."""
    mesh = run_mesh(run.stack, config, dict(run.outputs), secret_keys)
    run.resources = sorted([*run.resources, *mesh.resources], key=lambda r: (r.type, r.name, r.urn))
    run.mesh_outputs = mesh.outputs


def project_of(urn: str) -> str:
    """The project part of a URN (``urn:pulumi:<stack>::<project>::<type>::<name>``)."""
    parts = urn.split("::")
    return parts[1] if len(parts) > 2 else ""


def _loaded_config(namespace: dict[str, Any]) -> StackConfig | None:
    """The validated configuration among the program's globals (it loads exactly one)."""
    from stackconfig import StackConfig

    return next((value for value in namespace.values() if isinstance(value, StackConfig)), None)


class _SharedRuns:
    """Runs kept as files in one directory, so that processes sharing it make each run once.

    The first process to need a run takes its lock, makes it and writes it;
    the others wait on the lock and read the file. A run that fails (a
    configuration error) leaves no file: each process meets the error itself.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def get(self, key: str, build: Callable[[], StackRun]) -> StackRun:
        stem = hashlib.sha256(key.encode()).hexdigest()[:32]
        path = self.directory / f"{stem}.pickle"
        with open(self.directory / f"{stem}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if path.exists():
                return pickle.loads(path.read_bytes())
            run = build()
            handle, partial = tempfile.mkstemp(dir=self.directory, suffix=".partial")
            with os.fdopen(handle, "wb") as file:
                pickle.dump(run, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(partial, path)
            return run


_shared: _SharedRuns | None = None


def share_runs(directory: Path) -> None:
    """Share :func:`run_stack`'s runs with every process naming the same ``directory``.

    The directory must be new for each code and stack-file state: the test
    session creates one per session and its workers share it.
    """
    global _shared
    _shared = _SharedRuns(directory)
