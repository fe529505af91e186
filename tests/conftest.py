"""The order modules run in, so that the suite's two cores stay busy.

pytest-xdist (``-n auto --dist loadscope --no-loadscope-reorder`` in pyproject.toml)
hands each worker whole modules, so that a module's fixtures (a Tomcat, a Chromium, an
sshd) start once, in the order they were collected (not reordered by their number of
tests, which would start the two-test lowest-versions module last). The modules that take
longest start first; the many short ones fill in around them. Within a module the order
is unchanged. Measured with ``--durations``; a module missing from the list only runs
later, never differently.
"""

from __future__ import annotations

import os

import pytest

#: longest first (wall time on 2 cores)
SLOW_FIRST = (
    "test_lowest_versions.py",
    "test_output_sets.py",
    "test_browser_certificate.py",
    "test_trust_corpus.py",
    "test_vos_cli.py",
    "test_bad_files_property.py",
    "test_report_browser.py",
    "test_tomcat.py",
    "test_prober_object.py",
    "test_ansible.py",
    "test_hostile_audit.py",
    "test_prober_errors.py",
    "test_audit_command.py",
    "test_pdf.py",
    "test_portfolio.py",
    "test_output_mistakes.py",
    "test_name_resolution.py",
    "test_hostile_endpoints.py",
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than there are cores, since most modules spend much
    of their time waiting (sleeps of signal tests, timeouts, servers starting)."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
