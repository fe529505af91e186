"""collect.gather: the offline decision and the order of refinement, made once.

For any set of inventories, each with any of its nodes given a ``pem_dir``: an inventory
whose every node has one is declared from the certificates and never probed; in any other,
every node is probed and those with a ``pem_dir`` carry what is installed; gathering many
inventories at once gives each the facts it gets alone, through one probe of exactly the
endpoints of the inventories that are probed.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.collect import gather, gather_many
from auditor.collect.collect import endpoints_of
from auditor.collect.prober import ProbeOptions
from auditor.collect.sources.network import NetworkSource
from auditor.collect.sources.pem import PemSource
from auditor.collect.trust import AgentTrust
from auditor.lab import SCENARIOS
from auditor.lab.server import scenario_certificates
from auditor.model.cluster import Inventory, Node

OPTIONS = ProbeOptions(connect_timeout=1, handshake_timeout=1)
TRUST = AgentTrust("test", ())
#: names of scenarios with every kind of node (publisher, subscriber, SocialMiner)
NAMES = sorted(SCENARIOS)


@pytest.fixture(scope="module")
def downloads() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="uccx-gather-") as folder:
        yield Path(folder)


@functools.cache
def _keystore_dirs(scenario: str, root: str) -> dict[str, str]:
    """Each node's tomcat.pem and tomcat-ECDSA.pem, a folder per node (made once)."""
    dirs = {}
    for host, certs in scenario_certificates(scenario).items():
        folder = Path(root, scenario, host)
        folder.mkdir(parents=True)
        pem = serialization.Encoding.PEM
        (folder / "tomcat.pem").write_bytes(certs.tomcat.cert.public_bytes(pem))
        if certs.tomcat_ecdsa is not None:
            (folder / "tomcat-ECDSA.pem").write_bytes(certs.tomcat_ecdsa.cert.public_bytes(pem))
        dirs[host] = str(folder)
    return dirs


def _inventory(index: int, scenario: str, given_pem: list[bool], root: Path) -> Inventory:
    """The scenario's cluster, its servers out of reach (nothing listens on 127.0.1.x),
    the nodes flagged in ``given_pem`` with their downloaded certificates."""
    spec = SCENARIOS[scenario]
    dirs = _keystore_dirs(scenario, str(root))
    return Inventory(f"c{index}-{scenario}", spec.version, tuple(
        Node(n.host, n.role, f"127.0.1.{10 * index + place + 1}", {}, {},
             pem_dir=dirs[n.host] if pem else None)
        for place, (n, pem) in enumerate(zip(spec.nodes, given_pem, strict=True))))


clusters = st.lists(st.tuples(st.sampled_from(NAMES), st.lists(st.booleans(), min_size=3,
                                                               max_size=3)),
                    min_size=1, max_size=3)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=clusters)
def test_gather_decides_offline_once_and_probes_only_what_no_keystore_covers(
        drawn: list[tuple[str, list[bool]]], downloads: Path) -> None:
    inventories = [_inventory(i, name, flags, downloads)
                   for i, (name, flags) in enumerate(drawn)]
    probed: list[tuple[str, int, str | None]] = []

    def progress(target, results) -> None:
        probed.append((target.host, target.port, target.address))

    sources = [NetworkSource(TRUST, OPTIONS, progress=progress), PemSource(TRUST)]
    together = gather_many(inventories, sources)
    covered = [all(flags) for _name, flags in drawn]
    expected = sorted((node.host, port, node.address)
                      for inv, offline in zip(inventories, covered, strict=True)
                      if not offline for node, _service, port in endpoints_of(inv))
    assert sorted(probed) == expected  # one probe, of the inventories no keystore covers
    for inv, facts, offline in zip(inventories, together, covered, strict=True):
        assert facts.cluster == inv.cluster
        assert facts.source == ("declared" if offline else "observed")
        for node, state in zip(inv.nodes, facts.nodes, strict=True):
            if offline:
                assert state.tomcat.source == "declared"
            elif node.pem_dir:
                assert state.tomcat.source == "installed"
                assert state.tomcat.installed_from == f"pem:{node.pem_dir}"
            else:
                assert state.tomcat.source != "installed"
                assert not any(e.reachable for e in state.endpoints)
        alone = gather(inv, [PemSource(TRUST), NetworkSource(TRUST, OPTIONS)])
        assert [(n.tomcat, n.tomcat_ecdsa) for n in alone.nodes] == \
            [(n.tomcat, n.tomcat_ecdsa) for n in facts.nodes]
