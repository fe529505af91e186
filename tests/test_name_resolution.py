"""Name resolution is bounded by the connect timeout and stops when the prober is cancelled.

Every resolver here is the prober's injectable one: nothing leaves the machine. A resolver
that "never answers" blocks on an event the test sets when it is done with it, so no
thread outlives the test by more than that.
"""

from __future__ import annotations

import _thread
import socket
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from servers import Counted, plain_http, serve

from auditor.collect import handshake as handshake_module
from auditor.collect.handshake import Target
from auditor.collect.prober import ProbeOptions, Prober, handshake, probe_target
from auditor.model.facts import PROFILES

pytestmark = pytest.mark.slow

#: Generous: a bound that says "about one timeout, not ten seconds", not a speed claim.
BOUND = 5.0


class Stuck:
    """A resolver that never answers until released; it counts who asked."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int) -> list:
        with self._lock:
            self.asked.append(host)
        self.entered.set()
        self.release.wait(60)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


@pytest.fixture
def stuck() -> Iterator[Stuck]:
    resolver = Stuck()
    try:
        yield resolver
    finally:
        resolver.release.set()


def _lookup_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("resolve ")]


def test_a_resolver_that_never_answers_costs_one_connect_timeout(stuck: Stuck) -> None:
    options = ProbeOptions(connect_timeout=1.0, handshake_timeout=1.0, resolver=stuck)
    started = time.monotonic()
    result = handshake(Target("stuck.example", 8445), "browser", options)
    elapsed = time.monotonic() - started
    assert not result.ok and result.error.kind == "dns"
    assert result.error.detail == ("name resolution of stuck.example did not answer "
                                   "within 1 s")
    assert stuck.asked == ["stuck.example"]
    assert elapsed < BOUND, f"{elapsed:.1f} s"


def test_the_other_profiles_do_not_ask_again(stuck: Stuck) -> None:
    options = ProbeOptions(connect_timeout=1.0, handshake_timeout=1.0, resolver=stuck)
    started = time.monotonic()
    results = probe_target(Target("stuck.example", 8445), options)
    elapsed = time.monotonic() - started
    assert [r.error.kind for r in results] == ["dns"] * len(PROFILES)
    assert "did not answer within 1 s" in results[-1].error.detail
    assert stuck.asked == ["stuck.example"]
    assert elapsed < BOUND, f"{elapsed:.1f} s"


def test_cancelling_the_prober_stops_a_lookup_that_hangs(stuck: Stuck) -> None:
    """The connect timeout is long; cancel() ends the wait within a slice."""
    prober = Prober(ProbeOptions(connect_timeout=60.0, handshake_timeout=60.0,
                                 resolver=stuck))
    results = []
    worker = threading.Thread(target=lambda: results.append(
        prober.handshake(Target("stuck.example", 8445), "browser")), daemon=True)
    worker.start()
    assert stuck.entered.wait(10), "the resolver was never asked"
    prober.cancel()
    worker.join(BOUND)
    assert not worker.is_alive(), "the handshake still waits for the resolver"
    assert results[0].error.kind == "other" and results[0].error.detail == "interrupted"


def test_ctrl_c_during_a_lookup_that_hangs_is_heard_at_once(stuck: Stuck) -> None:
    """KeyboardInterrupt in the thread running probe_all (as Ctrl-C is): it stops the pool,
    whose worker waits for the resolver, well before the 60 s connect timeout."""
    prober = Prober(ProbeOptions(connect_timeout=60.0, handshake_timeout=60.0,
                                 resolver=stuck))

    def press_ctrl_c() -> None:
        if stuck.entered.wait(10):
            _thread.interrupt_main()

    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    presser.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        prober.probe_all([Target("stuck.example", 8445)])
    elapsed = time.monotonic() - started
    presser.join(10)
    assert prober.cancelled
    assert elapsed < BOUND, f"{elapsed:.1f} s"

    # the pool's worker, released by the cancel, ends too (on a loaded machine it may
    # take a moment to be scheduled after the interrupt): none is left behind
    def probe_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("probe")]

    deadline = time.monotonic() + BOUND
    while probe_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not probe_threads()


def test_lookup_threads_that_never_end_are_bounded(stuck: Stuck, monkeypatch) -> None:
    """With room for two lookups, five names that hang start two threads; the other three
    wait for a slot within their own deadline, then say why."""
    monkeypatch.setattr(handshake_module, "MAX_LOOKUPS", 2)
    monkeypatch.setattr(handshake_module, "_LOOKUP_SLOTS", threading.BoundedSemaphore(2))
    before = len(_lookup_threads())
    options = ProbeOptions(connect_timeout=1.0, handshake_timeout=1.0, resolver=stuck)
    prober = Prober(options)
    results = prober.probe_all([Target(f"stuck{i}.example", 8445, profiles=("browser",))
                                for i in range(5)])
    assert len(stuck.asked) == 2
    assert len(_lookup_threads()) - before <= 2
    errors = [r[0].error for r in results]
    assert all(e.kind == "dns" for e in errors)
    assert sum("2 earlier lookups are still waiting" in e.detail for e in errors) == 3
    # once the resolver answers, the threads end and their slots are free again
    stuck.release.set()
    for thread in _lookup_threads():
        thread.join(BOUND)
    assert handshake_module._LOOKUP_SLOTS.acquire(blocking=False)


def test_a_slow_resolver_that_answers_in_time_is_used() -> None:
    """Resolution in its own thread still hands its addresses to the connection when they
    come only once the handshake is already waiting for them."""
    caller = threading.get_ident()

    def slow(host: str, port: int) -> list:
        for _ in range(500):  # bounded: until the caller's thread sits in its wait
            frame = sys._current_frames().get(caller)
            if frame is not None and frame.f_code.co_name == "wait":
                break
            time.sleep(0.02)
        return [(socket.AF_INET, ("127.0.0.1", port))]

    counted = Counted(plain_http)
    with serve(counted) as port:
        result = handshake(Target("slow.example", port), "browser",
                           ProbeOptions(connect_timeout=2.0, handshake_timeout=2.0,
                                        resolver=slow))
    assert result.error.kind == "not_tls" and result.peer == "127.0.0.1"
    assert counted.count == 1


def test_an_error_of_the_resolver_is_dns_with_its_words() -> None:
    def failing(host: str, port: int) -> list:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    result = handshake(Target("nowhere.invalid", 8445), "browser",
                       ProbeOptions(connect_timeout=1.0, resolver=failing))
    assert result.error.kind == "dns"
    assert result.error.detail == ("cannot resolve nowhere.invalid: "
                                   "[Errno -2] Name or service not known")
