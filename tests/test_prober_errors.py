"""Every failing handshake becomes a typed error; nothing escapes, nothing hangs."""

from __future__ import annotations

import socket
import time

import pytest
from servers import alert, close_at_once, free_port, listening_sockets, plain_http, reset, serve

from auditor.collect.handshake import Target
from auditor.collect.prober import ProbeOptions, handshake, probe_all, probe_target
from auditor.lab import Lab
from auditor.model.facts import PROFILES

pytestmark = pytest.mark.slow

FAST = ProbeOptions(connect_timeout=1.0, handshake_timeout=1.0)


def test_refused_port_is_refused() -> None:
    result = handshake(Target("refused.example", free_port(), "127.0.0.1"), "browser", FAST)
    assert not result.ok
    assert result.error.kind == "refused"
    assert "127.0.0.1" in result.error.detail


def test_listener_that_never_answers_is_a_timeout_within_the_handshake_timeout() -> None:
    with listening_sockets(1) as ports:
        started = time.monotonic()
        result = handshake(Target("silent.example", ports[0], "127.0.0.1"), "browser", FAST)
        elapsed = time.monotonic() - started
    assert result.error.kind == "timeout"
    assert "sent nothing" in result.error.detail
    assert elapsed < FAST.connect_timeout + FAST.handshake_timeout + 1.0


def test_plain_http_listener_is_not_tls() -> None:
    with serve(plain_http) as port:
        result = handshake(Target("http.example", port, "127.0.0.1"), "browser", FAST)
    assert result.error.kind == "not_tls"
    assert "HTTP/1.1 400" in result.error.detail


def test_server_that_resets_is_reset() -> None:
    with serve(reset) as port:
        result = handshake(Target("rst.example", port, "127.0.0.1"), "browser", FAST)
    assert result.error.kind == "reset"


def test_server_that_closes_without_answering_is_reset() -> None:
    with serve(close_at_once) as port:
        result = handshake(Target("eof.example", port, "127.0.0.1"), "browser", FAST)
    assert result.error.kind == "reset"


def test_tls_alert_carries_its_description() -> None:
    with serve(alert) as port:
        result = handshake(Target("alert.example", port, "127.0.0.1"), "browser", FAST)
    assert result.error.kind == "tls_alert"
    assert result.error.detail == "handshake_failure"


def test_ecdsa_only_client_against_an_rsa_only_server_gets_the_servers_alert() -> None:
    with Lab("row3-ec-signed-ecdsa") as lab:
        finesse = next(e for e in lab.endpoints if e.service == "finesse")
        result = handshake(Target(finesse.host, finesse.port, finesse.address), "ecdsa_only",
                           FAST)
    assert result.error.kind == "tls_alert"
    assert result.error.detail == "handshake_failure"


def test_name_that_does_not_resolve_is_dns_without_asking_the_system_resolver() -> None:
    asked: list[str] = []

    def resolver(host: str, port: int) -> list:
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    options = ProbeOptions(connect_timeout=1.0, handshake_timeout=1.0, resolver=resolver)
    results = probe_target(Target("nowhere.invalid", 8445), options)
    assert asked == ["nowhere.invalid"]  # the first profile asks once; the others reuse it
    assert [r.error.kind for r in results] == ["dns"] * len(PROFILES)
    assert "nowhere.invalid" in results[0].error.detail


def test_resolver_with_no_addresses_is_dns() -> None:
    options = ProbeOptions(resolver=lambda host, port: [])
    assert handshake(Target("empty.invalid", 443), "browser", options).error.kind == "dns"


def test_injected_resolver_is_used_to_connect() -> None:
    with Lab("row3-ec-signed-ecdsa") as lab:
        live = next(e for e in lab.endpoints if e.service == "live_data")

        def resolver(host: str, port: int) -> list:
            assert host == live.host
            return [(socket.AF_INET, (live.address, port))]

        result = handshake(Target(live.host, live.port), "browser",
                           ProbeOptions(resolver=resolver))
    assert result.ok and result.peer == live.address


def test_a_dead_endpoint_costs_one_timeout_not_one_per_profile() -> None:
    with listening_sockets(1) as ports:
        started = time.monotonic()
        results = probe_target(Target("silent.example", ports[0], "127.0.0.1"), FAST)
        elapsed = time.monotonic() - started
    assert [r.error.kind for r in results] == ["timeout"] * 3
    assert elapsed < 2 * FAST.handshake_timeout + 1.0


@pytest.mark.timeout(60)
def test_twenty_endpoints_that_never_answer_cost_about_one_timeout() -> None:
    """A structural bound (concurrency), not a speed claim: serial would take 20 s."""
    timeout = 1.0
    options = ProbeOptions(connect_timeout=timeout, handshake_timeout=timeout, concurrency=64)
    with listening_sockets(20) as ports:
        targets = [Target(f"dead{i}.example", port, "127.0.0.1")
                   for i, port in enumerate(ports)]
        started = time.monotonic()
        results = probe_all(targets, options)
        elapsed = time.monotonic() - started
    assert all(r.error.kind == "timeout" for rs in results for r in rs)
    assert elapsed < 20 * timeout / 2, f"{elapsed:.1f} s for 20 dead endpoints"


def test_results_come_back_in_input_order_with_progress_for_each() -> None:
    seen = []
    with listening_sockets(1) as silent_ports, serve(plain_http) as http_port:
        targets = [Target("a.example", silent_ports[0], "127.0.0.1"),
                   Target("b.example", http_port, "127.0.0.1"),
                   Target("c.example", free_port(), "127.0.0.1")]
        results = probe_all(targets, FAST, progress=lambda t, r: seen.append(t.host))
    assert [r[0].error.kind for r in results] == ["timeout", "not_tls", "refused"]
    assert sorted(seen) == ["a.example", "b.example", "c.example"]


def _fake_handshakes(monkeypatch, answer) -> list[tuple[str, str]]:
    """Replace the handshake with ``answer(target, profile)``; return the calls made."""
    import threading

    from auditor.collect import prober
    calls: list[tuple[str, str]] = []
    lock = threading.Lock()

    def fake(self, target, profile):
        with lock:
            calls.append((target.host, profile))
        return answer(target, profile)

    monkeypatch.setattr(prober.Prober, "handshake", fake)
    return calls


def test_once_the_first_profile_answered_the_others_run_at_the_same_time(monkeypatch) -> None:
    import threading

    from auditor.collect.handshake import Handshake

    both_running = threading.Barrier(2, timeout=10)

    def answer(target, profile):
        if profile != PROFILES[0]:
            both_running.wait()  # breaks (and the test fails) if they ran one after another
        return Handshake(profile, "tls13_sigalgs", True, 1.0)

    calls = _fake_handshakes(monkeypatch, answer)
    results = probe_all([Target("a.example", 443, "127.0.0.1")], FAST)
    assert [r.profile for r in results[0]] == list(PROFILES)
    assert all(r.ok for r in results[0])
    assert calls[0] == ("a.example", PROFILES[0])


def test_an_endpoint_where_nothing_answers_gets_one_handshake_for_all_profiles(
        monkeypatch) -> None:
    from auditor.collect.handshake import Handshake
    from auditor.model.facts import ProbeError

    def answer(target, profile):
        if target.host == "dead.example":
            return Handshake(profile, "tls13_sigalgs", False, 5000.0,
                             error=ProbeError("timeout", "the server sent nothing"))
        return Handshake(profile, "tls13_sigalgs", True, 1.0)

    calls = _fake_handshakes(monkeypatch, answer)
    seen: list[tuple[str, tuple[str, ...]]] = []
    targets = [Target(host, 443, "127.0.0.1") for host in
               ("a.example", "dead.example", "b.example")]
    results = probe_all(targets, ProbeOptions(concurrency=2),
                        progress=lambda t, r: seen.append((t.host, tuple(h.profile for h in r))))
    assert [h for h, _ in calls].count("dead.example") == 1
    assert [r.error.kind for r in results[1]] == ["timeout"] * len(PROFILES)
    assert [r.ok for r in results[0] + results[2]] == [True] * 2 * len(PROFILES)
    assert sorted(seen) == [(h, tuple(PROFILES)) for h in
                            ("a.example", "b.example", "dead.example")]
