#!/usr/bin/env python3
"""Entry points for a fresh machine; needs only Python 3.11+ with pip and venv.

    python3 tasks.py preview <stack> [--format text|json|...]   offline preview of a stack
    python3 tasks.py test [pytest arguments]                    the test suite
    python3 tasks.py bench                                      preview and test timings

Each command first makes sure ``.venv`` (the virtualenv Pulumi.yaml names, so
the Pulumi CLI uses the same one) holds exactly requirements.txt, building it
when it is missing or requirements.txt changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".requirements.sha256"
REQUIREMENTS = ROOT / "requirements.txt"

COMMANDS = {
    "preview": ["-m", "preview"],
    "test": ["-m", "pytest"],
    "bench": ["-m", "benchmarks.bench"],
}


def ensure_venv() -> None:
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        print(f"creating {VENV.name} ...", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    print("installing requirements.txt ...", file=sys.stderr)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
        check=True,
    )
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    if sys.version_info < (3, 11):
        print(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}", file=sys.stderr)
        return 2
    ensure_venv()
    os.chdir(ROOT)
    os.execv(PYTHON, [str(PYTHON), *COMMANDS[argv[0]], *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
