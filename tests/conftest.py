"""Shared pytest configuration: fixtures live in tests/fixtures/, one module per real service."""

import os

# One intra-op thread: on a 2-core machine torch's default of 2 threads is many times slower
# as soon as anything else runs (see bench/threads.py).
os.environ.setdefault("OMP_NUM_THREADS", "1")

pytest_plugins = [
    "tests.fixtures.server",
    "tests.fixtures.postgres",
    "tests.fixtures.browser",
    "tests.fixtures.ray",
]
