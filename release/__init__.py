"""The release path: record built digests for dev, promote them stack by stack, and check them before a deploy.

Run as ``python3 tasks.py release <command>`` (see ``release/__main__.py``);
the workflows in ``.github/workflows/`` call nothing else. docs/delivery.md
describes the whole path.
"""
