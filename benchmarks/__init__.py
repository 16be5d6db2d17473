"""Timings of the offline preview and the test suite (``python3 tasks.py bench``)."""
