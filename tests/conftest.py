"""The order modules run in, so that the suite's cores stay busy.

pytest-xdist (``-n auto --dist loadscope --no-loadscope-reorder`` in pyproject.toml)
hands each worker whole modules, so that a module's fixtures (a Tomcat, a Chromium, an
sshd) start once, in the order they were collected (not reordered by their number of
tests, which would start the two-test lowest-versions module last). The modules marked
``slow`` start first; the many short ones fill in around them. Within a module the order
is unchanged. The marker is the only list: a module that becomes slow gets
``pytestmark = pytest.mark.slow``.
"""

from __future__ import annotations

import os

import pytest


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than there are cores, since most modules spend much
    of their time waiting (subprocesses, timeouts, servers starting)."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable
