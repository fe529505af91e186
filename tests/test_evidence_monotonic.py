"""Removing or corrupting evidence never moves the verdict towards GO (issue 20).

Over every lab scenario's facts (declared offline from the lab's certificates, as an engineer
downloads them) and every recorded fixture that records a valid inventory (probed from
the lab, with the evaluation options its rule cases use), hypothesis applies one or two
mutations that drop, blank, duplicate or contradict evidence: a node, an endpoint, a
handshake, a PEM, a certificate, a version, a field; a duplicated endpoint; swapped or
changed roles; a contradicted certificate state; shifted dates. Then:

- facts that audit to no_go or inconclusive never audit to go or go_with_actions;
- go_with_actions never becomes go.

A mutation that makes the file invalid is refused (an :class:`InputError`, exit 2): that is
no GO either. Everything runs in this process, on dicts.

Evidence that is removed together with every record of it (a node dropped from the records
and from the roster the facts list their nodes in) describes a smaller cluster, which may
well be GO: the roster is dropped only on its own, never with a node.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_cases import FACTS, discover
from test_offline_audit import LAB, downloads

from auditor.collect.offline import declared_facts
from auditor.collect.recorded import check_recorded_certificates
from auditor.collect.trust import load_agent_trust
from auditor.common.errors import InputError
from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import load_ruleset
from auditor.lab import SCENARIOS
from auditor.model.cluster import ROLES, Inventory, Node
from auditor.model.facts import STATES, facts_from_data, facts_to_json

RULES = load_ruleset()
STAMP = "%Y-%m-%dT%H:%M:%SZ"
TOWARDS_GO = {"no_go": {"go", "go_with_actions"}, "inconclusive": {"go", "go_with_actions"},
              "go_with_actions": {"go"}, "go": set()}


@dataclass(frozen=True)
class Base:
    """Facts to mutate and how they are judged."""

    name: str
    data: dict[str, Any]
    phase: str
    target: str | None = None
    change: str | None = None


def judge(data: dict[str, Any], base: Base) -> str:
    """The verdict of these facts as the base is judged, or ``refused``."""
    try:
        facts = facts_from_data(json.loads(json.dumps(data)))
        check_recorded_certificates(facts, "<mutated>")  # as evaluate and portfolio do
        change = base.change
        if change is not None and change.startswith("+"):
            change = (dt.date.fromisoformat(facts.observed_at[:10])
                      + dt.timedelta(days=int(change[1:]))).isoformat()
        options = make_settings(facts.version, facts.observed_at, phase=base.phase,
                                target_version=base.target, change_date=change)
        return evaluate(RULES, facts, options).verdict
    except InputError:
        return "refused"


# -- the facts ---------------------------------------------------------------------------

def _lab_time(scenario: str) -> dt.datetime:
    """A day after the lab's certificates of this scenario were made."""
    starts = [cert.not_valid_before_utc for path in (LAB / scenario).glob("*.pem")
              for cert in x509.load_pem_x509_certificates(path.read_bytes())]
    return max(starts) + dt.timedelta(days=1)


@functools.cache
def offline_facts(scenario: str, without: frozenset[tuple[str, str]] = frozenset()
                  ) -> dict[str, Any]:
    """The scenario's facts from its certificates as downloaded, one folder a node, less the
    files in ``without`` ((host, file name))."""
    spec = SCENARIOS[scenario]
    inventory = Inventory(f"lab-{scenario}", spec.version, tuple(
        Node(n.host, n.role, declared={"cop_installed": True} if n.cop_installed else {})
        for n in spec.nodes))
    with tempfile.TemporaryDirectory() as work:
        folder = downloads(scenario, Path(work) / "downloads")
        for host, name in without:
            (folder / host / name).unlink()
        facts = declared_facts(inventory, trust=load_agent_trust(str(LAB / "agent-trust.pem")),
                               from_pem=folder, at=_lab_time(scenario))
    return json.loads(facts_to_json(facts))


def _offline_base(scenario: str) -> Base:
    pre = scenario.startswith("pre-upgrade")
    return Base(f"offline {scenario}", offline_facts(scenario), "pre" if pre else "post",
                "11.5(1)" if pre else None)


#: Fixtures that are no recording of a valid inventory but a recording edited afterwards
#: or one of an inventory the tool refuses (scripts/make_rule_fixtures.py): mutations
#: already, whose repair by another mutation may well be GO.
EDITED = frozenset({"row3-two-publishers", "row3-subscriber-record-missing",
                    "row3-publisher-tomcat-state-contradicted"})


def _recorded_bases() -> list[Base]:
    combos = {(c.data["facts"], c.data["phase"], c.data.get("target_version"),
               c.data.get("change_date")) for c in discover() if c.data["facts"] not in EDITED}
    return [Base(f"recorded {name} {phase} {target} {change}",
                 json.loads((FACTS / f"{name}.json").read_text()), phase, target, change)
            for name, phase, target, change in sorted(combos, key=str)]


#: every lab scenario, offline, and the recordings
BASES = [_offline_base(s) for s in SCENARIOS] + _recorded_bases()


@functools.cache
def base_verdict(index: int) -> str:
    return judge(BASES[index].data, BASES[index])


# -- the mutations -------------------------------------------------------------------------
# Each takes the facts (a dict it may change) and hypothesis' draw; it returns a short
# description, or None when it has nothing to change in these facts.

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _pick(draw: Draw, items: list[Any]) -> Any:
    return items[draw(st.integers(0, len(items) - 1))] if items else None


def _endpoints(data: dict[str, Any]) -> list[tuple[dict, list, int]]:
    return [(node, node["endpoints"], i) for node in data["nodes"]
            for i in range(len(node["endpoints"]))]


def _handshakes(data: dict[str, Any]) -> list[tuple[dict, list, int]]:
    return [(ep, ep["handshakes"], k) for node in data["nodes"] for ep in node["endpoints"]
            for k in range(len(ep["handshakes"]))]


def drop_node(data: dict, draw: Draw) -> str | None:
    if not data["nodes"]:
        return None
    node = data["nodes"].pop(draw(st.integers(0, len(data["nodes"]) - 1)))
    return f"drop node {node.get('host')}"


def drop_endpoint(data: dict, draw: Draw) -> str | None:
    found = _pick(draw, _endpoints(data))
    if found is None:
        return None
    node, endpoints, i = found
    return f"drop endpoint {node.get('host')} {endpoints.pop(i)['service']}"


def duplicate_endpoint(data: dict, draw: Draw) -> str | None:
    found = _pick(draw, _endpoints(data))
    if found is None:
        return None
    node, endpoints, i = found
    copied = copy.deepcopy(endpoints[i])
    copied["port"] = draw(st.sampled_from([copied["port"], copied["port"] + 1]))
    endpoints.insert(draw(st.integers(0, len(endpoints))), copied)
    if draw(st.booleans()):  # the copy tells another story: another profile's handshakes
        other = _pick(draw, [e for e in endpoints if e is not copied])
        if other is not None:
            copied["handshakes"] = copy.deepcopy(other["handshakes"])
    return f"duplicate endpoint {node.get('host')} {copied['service']}"


def drop_handshake(data: dict, draw: Draw) -> str | None:
    found = _pick(draw, _handshakes(data))
    if found is None:
        return None
    endpoint, handshakes, k = found
    return f"drop handshake {endpoint['service']} {handshakes.pop(k)['profile']}"


def fail_handshake(data: dict, draw: Draw) -> str | None:
    found = _pick(draw, _handshakes(data))
    if found is None:
        return None
    endpoint, handshakes, k = found
    handshakes[k].update(ok=False, chain=[], chain_check=None, name_covered=None,
                         cn_only=None, error={"kind": "timeout", "detail": "timed out"})
    return f"fail handshake {endpoint['service']} {handshakes[k]['profile']}"


def drop_certificate(data: dict, draw: Draw) -> str | None:
    fingerprint = _pick(draw, sorted(data["certificates"]))
    if fingerprint is None:
        return None
    del data["certificates"][fingerprint]
    return f"drop certificate {fingerprint[:12]}"


def swap_leaf(data: dict, draw: Draw) -> str | None:
    """A handshake whose leaf is another certificate of the facts (the chain contradicts
    what the state and the other profiles say)."""
    found = _pick(draw, [(ep, hs) for node in data["nodes"] for ep in node["endpoints"]
                         for hs in ep["handshakes"] if hs["ok"] and hs["chain"]])
    other = _pick(draw, sorted(data["certificates"]))
    if found is None or other is None:
        return None
    found[1]["chain"][0] = other
    return f"swap leaf {found[0]['service']} {found[1]['profile']} -> {other[:12]}"


_UNITS = ("tomcat", "tomcat_ecdsa")
#: Fields a recording may lack or leave empty, by where they sit.
_BLANKABLE = {
    "handshake": ("chain_check", "name_covered", "cn_only"),
    "chain_check": ("untrusted_root", "missing_intermediate", "order_ok", "trust"),
    "certificate": ("key_usage_allows_signing", "san_dns", "subject_cn", "not_after",
                    "signer_key_type", "key_type"),
    "state": ("leaf", "seen_on", "state", "source"),
    "node": ("declared", "installed", "role", "host", "tomcat_ecdsa"),
    "facts": ("version", "observed_at", "roster", "agent_trust"),
}


def blank_field(data: dict, draw: Draw) -> str | None:
    """Drop a field, or set it to null, an empty text or an empty list."""
    places: list[tuple[str, dict]] = [("facts", data)]
    places += [("certificate", c) for c in data["certificates"].values()]
    for node in data["nodes"]:
        places += [("node", node)] + [("state", node[which]) for which in _UNITS
                                       if isinstance(node.get(which), dict)]
        for endpoint in node["endpoints"]:
            for hs in endpoint["handshakes"]:
                places.append(("handshake", hs))
                if hs.get("chain_check"):
                    places.append(("chain_check", hs["chain_check"]))
    where, place = _pick(draw, places)
    key = draw(st.sampled_from(_BLANKABLE[where]))
    if key not in place:
        return None
    if where == "facts" and key == "roster" and len(data["nodes"]) > len(place["roster"] or ()):
        return None  # see the module's docstring
    how = draw(st.sampled_from(["drop", None, "", []]))
    if how == "drop":
        del place[key]
    else:
        place[key] = how
    return f"blank {where}.{key} ({how!r})"


def contradict_state(data: dict, draw: Draw) -> str | None:
    node = _pick(draw, data["nodes"])
    which = draw(st.sampled_from(_UNITS))
    state = node.get(which) if node is not None else None
    if not isinstance(state, dict):
        return None
    field = draw(st.sampled_from(["state", "source", "leaf"]))
    if field == "state":
        state["state"] = draw(st.sampled_from(STATES))
    elif field == "source":
        state["source"] = draw(st.sampled_from(["observed", "declared", "installed"]))
    else:
        state["leaf"] = _pick(draw, sorted(data["certificates"]))
    return f"contradict {node.get('host')} {which}.{field} = {state[field]!r}"


def change_role(data: dict, draw: Draw) -> str | None:
    if not data["nodes"]:
        return None
    if len(data["nodes"]) > 1 and draw(st.booleans()):
        a, b = draw(st.lists(st.integers(0, len(data["nodes"]) - 1), min_size=2, max_size=2,
                             unique=True))
        nodes = data["nodes"]
        nodes[a]["role"], nodes[b]["role"] = nodes[b]["role"], nodes[a]["role"]
        return f"swap roles of nodes {a} and {b}"
    node = _pick(draw, data["nodes"])
    node["role"] = draw(st.sampled_from(ROLES))
    return f"role of {node.get('host')} = {node['role']}"


def _shift(text: Any, days: int) -> Any:
    """A timestamp ``days`` later; anything else (a field blanked before) as it is."""
    try:
        return (dt.datetime.strptime(text, STAMP) + dt.timedelta(days=days)).strftime(STAMP)
    except (TypeError, ValueError):
        return text


def shift_dates(data: dict, draw: Draw) -> str | None:
    """A certificate ends earlier or begins later than recorded, or the whole recording
    moves in time. The recording's own time never moves alone: that would rewrite when the
    recorded chain verdicts were made (a certificate not yet valid then would seem valid,
    its verdict still saying it was not), which nothing short of the certificates' own
    bytes and a new verdict can see."""
    days = draw(st.integers(1, 1000))
    how = draw(st.sampled_from(["ends earlier", "begins later", "everything"]))
    certificates = [c for c in data["certificates"].values()
                    if isinstance(c, dict) and "not_before" in c and "not_after" in c]
    if not isinstance(data.get("observed_at"), str):
        return None
    if how in ("ends earlier", "begins later"):
        cert = _pick(draw, certificates)
        if cert is None:
            return None
        key, sign = ("not_after", -1) if how == "ends earlier" else ("not_before", 1)
        cert[key] = _shift(cert[key], sign * days)
    else:
        days = draw(st.sampled_from([-days, days]))
        data["observed_at"] = _shift(data["observed_at"], days)
        for cert in certificates:
            cert["not_before"] = _shift(cert["not_before"], days)
            cert["not_after"] = _shift(cert["not_after"], days)
    return f"shift dates: {how} by {days} days"


def extend_dates(data: dict, draw: Draw) -> str | None:
    """A certificate's recorded validity made longer than its PEM says, or its key or
    signer recorded otherwise: the fields a hand would edit to hide an expiry or a weak key,
    the certificate itself unchanged."""
    certificates = [c for c in data["certificates"].values() if isinstance(c, dict)]
    cert = _pick(draw, certificates)
    if cert is None:
        return None
    days = draw(st.integers(1, 40000))
    how = draw(st.sampled_from(["ends later", "begins earlier", "key size", "signer"]))
    if how == "ends later":
        cert["not_after"] = _shift(cert.get("not_after"), days)
    elif how == "begins earlier":
        cert["not_before"] = _shift(cert.get("not_before"), -days)
    elif how == "key size":
        cert["key_size"] = 4096
    else:
        cert["signer_key_type"] = "ec"
    return f"extend dates: {how}"


MUTATIONS = (drop_node, drop_endpoint, duplicate_endpoint, drop_handshake, fail_handshake,
             drop_certificate, swap_leaf, blank_field, contradict_state, change_role,
             shift_dates, extend_dates)


@st.composite
def mutated(draw: Draw) -> tuple[int, dict[str, Any], list[str]]:
    index = draw(st.integers(0, len(BASES) - 1))
    data = copy.deepcopy(BASES[index].data)
    done = []
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=2)):
        if mutation is blank_field and any(d.startswith("drop node") for d in done):
            continue  # see the module's docstring
        said = mutation(data, draw)
        if said is not None:
            done.append(said)
    return index, data, done


PROPERTY = settings(max_examples=800, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(mutated())
def test_less_or_broken_evidence_never_moves_the_verdict_towards_go(case) -> None:
    index, data, done = case
    before = base_verdict(index)
    assert before != "refused", BASES[index].name  # every base is a valid recording
    after = judge(data, BASES[index])
    assert after not in TOWARDS_GO[before], (BASES[index].name, done, before, after)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(SCENARIOS)), st.data())
def test_a_pem_not_downloaded_never_moves_the_verdict_towards_go(scenario: str,
                                                                   data: st.DataObject) -> None:
    """Drop a node's downloaded tomcat-ECDSA.pem (or its trust file): what was not
    downloaded is not evidence that it does not exist."""
    files = [(node.host, name) for node in SCENARIOS[scenario].nodes
             for name, lab in (("tomcat-ECDSA.pem", f"{node.name}-tomcat-ecdsa.pem"),
                               ("tomcat-trust-issuing.pem", "rsa-issuing-ca.pem"))
             if (LAB / scenario / lab).exists() or (LAB / lab).exists()]
    host, name = data.draw(st.sampled_from(files))
    base = _offline_base(scenario)
    less = offline_facts(scenario, frozenset({(host, name)}))
    before, after = judge(base.data, base), judge(less, base)
    assert after not in TOWARDS_GO[before], (scenario, host, name, before, after)


def test_no_certificate_made_valid_longer_by_hand_moves_the_verdict_towards_go() -> None:
    """Every certificate of every base, its recorded validity stretched (ending 100 years
    later, beginning 100 years earlier) while its PEM stays as it was: the edit a hand makes
    to hide an expiry. Exhaustive, since a random draw rarely lands on the one expired
    certificate of a base."""
    for index, base in enumerate(BASES):
        before = base_verdict(index)
        for key, cert in base.data["certificates"].items():
            for field, days in (("not_after", 36500), ("not_before", -36500)):
                data = copy.deepcopy(base.data)
                data["certificates"][key][field] = _shift(cert[field], days)
                after = judge(data, base)
                assert after not in TOWARDS_GO[before], (base.name, key[:16], field, before,
                                                         after)


def _declared_states() -> list[Any]:
    """(base, node, unit) of every certificate state a base records as declared."""
    return [pytest.param(index, place, which,
                         id=f"{base.name}-{node.get('host')}-{which}".replace(" ", "-"))
            for index, base in enumerate(BASES)
            for place, node in enumerate(base.data["nodes"]) for which in _UNITS
            if isinstance(node.get(which), dict) and node[which].get("source") == "declared"]


@pytest.mark.parametrize("index,place,which", _declared_states())
def test_a_declared_state_the_declaration_does_not_bear_never_moves_towards_go(
        index: int, place: int, which: str) -> None:
    """Every state value under the source ``declared``, with the inventory's declaration
    kept or dropped: a state nothing in the facts declares is no evidence (a declared
    ``not_presented`` tomcat-ECDSA on 11.5 once audited a NO-GO as GO)."""
    base, before = BASES[index], base_verdict(index)
    for state in STATES:
        for keep in (True, False):
            data = copy.deepcopy(base.data)
            node = data["nodes"][place]
            node[which].update(state=state, leaf=None)
            if not keep:
                node.get("declared", {}).pop(which, None)
            after = judge(data, base)
            assert after not in TOWARDS_GO[before], (base.name, which, state, keep, after)
