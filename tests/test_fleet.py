"""The lab fleet: N endpoints laid out as one inventory, served by other processes, each
presenting the certificates docs/domain.md says, and silent endpoints that never answer."""

from __future__ import annotations

import pytest

from auditor.collect.certs import fingerprint
from auditor.collect.handshake import Target
from auditor.collect.inventory import load_inventory
from auditor.collect.prober import ProbeOptions, probe_all
from bench.fleet import Fleet, layout


def test_fourteen_endpoints_are_a_publisher_a_subscriber_and_two_socialminers() -> None:
    nodes = layout(14)
    assert [n.role for n in nodes] == ["uccx-publisher", "uccx-subscriber", "socialminer",
                                       "socialminer"]
    assert sum(len(n.services) for n in nodes) == 14
    assert len({n.address for n in nodes}) == len(nodes)
    assert all(n.address.startswith("127.") for n in nodes)


def test_all_ports_gives_the_uccx_nodes_six_ports() -> None:
    nodes = layout(14, all_ports=True)
    assert [len(n.services) for n in nodes] == [6, 6, 2]


def test_silent_endpoints_are_whole_socialminer_nodes_at_the_end() -> None:
    nodes = layout(100, silent=50)
    silent = [n for n in nodes if n.silent]
    assert sum(len(n.services) for n in silent) == 50
    assert nodes[-len(silent):] == silent
    assert all(n.role == "socialminer" for n in silent)


def test_a_thousand_endpoints_spread_over_distinct_loopback_addresses() -> None:
    nodes = layout(1000)
    assert sum(len(n.services) for n in nodes) == 1000
    assert len({n.address for n in nodes}) == len(nodes)


@pytest.mark.parametrize(("endpoints", "silent"), [(9, 0), (7, 0), (10, 1), (10, 6)])
def test_counts_that_cannot_be_laid_out_are_refused(endpoints: int, silent: int) -> None:
    with pytest.raises(ValueError):
        layout(endpoints, silent=silent)


def test_each_profile_gets_the_fleet_leaf_and_silent_endpoints_time_out(tmp_path) -> None:
    with Fleet(14, tmp_path, silent=2, processes=2) as fleet:
        inventory = load_inventory(fleet.inventory_path)
        assert sum(len(n.endpoints()) for n in inventory.nodes) == 14
        results = probe_all([Target(e.host, e.port, e.address) for e in fleet.endpoints],
                            ProbeOptions(connect_timeout=2, handshake_timeout=0.5))
        for endpoint, handshakes in zip(fleet.endpoints, results, strict=True):
            got = {h.profile: (h.chain[0] if h.ok else None) for h in handshakes}
            if endpoint.silent:
                assert all(h.error and h.error.kind == "timeout" for h in handshakes)
                continue
            leaves = {p: fingerprint(c) if c is not None else None for p, c in got.items()}
            assert leaves["rsa_only"] == endpoint.rsa_leaf
            assert leaves["ecdsa_only"] == endpoint.ec_leaf
            assert leaves["browser"] == (endpoint.ec_leaf or endpoint.rsa_leaf)
        ecdsa_ports = {(e.role, e.service) for e in fleet.endpoints if e.ec_leaf}
        assert ecdsa_ports == {("uccx-publisher", "live_data"),
                               ("uccx-subscriber", "live_data"),
                               ("socialminer", "notification")}


def test_a_late_server_still_completes_every_handshake(tmp_path) -> None:
    with Fleet(12, tmp_path, latency_ms=20, processes=1) as fleet:
        results = probe_all([Target(e.host, e.port, e.address) for e in fleet.endpoints],
                            ProbeOptions(connect_timeout=2, handshake_timeout=2))
        for endpoint, handshakes in zip(fleet.endpoints, results, strict=True):
            assert {fingerprint(h.chain[0]) for h in handshakes if h.ok} == endpoint.leaves
