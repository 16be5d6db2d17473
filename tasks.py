#!/usr/bin/env python3
"""Entry points for a fresh machine; needs only Python 3.11+ with pip and venv.

    python3 tasks.py preview <stack> [--format text|json|...]   offline preview of a stack
    python3 tasks.py test [pytest arguments]                    the test suite
    python3 tasks.py bench [--repeat N] [--no-suite]            preview, floor and test timings
    python3 tasks.py release <command> [...]                    releases and promotions (docs/delivery.md)

Each command first makes sure ``.venv`` (the virtualenv Pulumi.yaml names, so
the Pulumi CLI uses the same one) holds exactly requirements.lock (every
package of requirements.txt and requirements-dev.txt, transitive ones
included), building it when it is missing or the lock changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".requirements.sha256"
LOCK = ROOT / "requirements.lock"

COMMANDS = {
    "preview": ["-m", "preview"],
    "test": ["-m", "pytest"],
    "bench": ["-m", "benchmarks.bench"],
    "release": ["-m", "release"],
}


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True)


def _name(requirement: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", requirement).lower()


def ensure_venv() -> None:
    wanted = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        print(f"creating {VENV.name} ...", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    print(f"installing {LOCK.name} ...", file=sys.stderr)
    _pip("install", "--quiet", "-r", str(LOCK))
    locked = {_name(line.split("==")[0]) for line in LOCK.read_text().splitlines() if "==" in line}
    installed = {_name(package["name"]) for package in json.loads(_pip("list", "--format=json").stdout)}
    # What an older lock installed and this one no longer lists (an unused provider makes the
    # Pulumi CLI fetch its plugin); pip itself stays whatever the lock says.
    extra = sorted(installed - locked - {"pip"})
    if extra:
        print(f"removing {', '.join(extra)} ...", file=sys.stderr)
        _pip("uninstall", "--quiet", "--yes", *extra)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs under whatever python3 the machine has
        print(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}", file=sys.stderr)
        return 2
    ensure_venv()
    os.chdir(ROOT)
    os.execv(PYTHON, [str(PYTHON), *COMMANDS[argv[0]], *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
