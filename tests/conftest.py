"""The order modules run in, so that the suite's cores stay busy; Ctrl-C as a terminal
sends it.

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
import signal

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as a terminal sends it: a suite started with SIGINT ignored (a background job
    of a shell without job control, as some CI runners start it) would otherwise pass the
    ignoring on to every tool it runs, and the tests of what Ctrl-C does could not send
    one. A handler, unlike an ignored signal, is reset to the default in every child."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than there are cores, since most modules spend much
    of their time waiting (subprocesses, timeouts, servers starting)."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable
