"""The servers' trust edges as the rules judge them (rules/solution.yaml ``trust:``, the view's
``node.trust.<edge>``), over every composition of the stores, from recorded facts.

The facts are a real VOS CLI reading of the lab (fixtures/facts/row3-cli-trust-complete.json:
every store holds the lab roots); each property rewrites which certificates each node's
tomcat-trust holds, or drops a node's reading, and checks the outcome of chat/email against
an oracle written from 118855's words: a store holds a chain when it holds the certificate or
any CA on its path to the root.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import settings_for
from auditor.evaluate.ruleset import load_ruleset
from auditor.model.facts import Facts, TrustEntry, load_facts

ROOT = Path(__file__).resolve().parent.parent
FACTS = load_facts(ROOT / "fixtures" / "facts" / "row3-cli-trust-complete.json")
RULES = load_ruleset()
SM = next(n for n in FACTS.nodes if n.role == "socialminer")
UCCX = [n for n in FACTS.nodes if n is not SM]
#: every certificate the facts hold: candidates for any store
CANDIDATES = sorted(FACTS.certificates)


def _path(node_host: str, service: str) -> set[str]:
    """The certificates on the path of what a node sends on ``service``: the chain it sends
    and the CA certificate that issued its top."""
    node = next(n for n in FACTS.nodes if n.host == node_host)
    chain = next(h.chain for e in node.endpoints if e.service == service
                 for h in e.handshakes if h.ok and h.chain)
    top = FACTS.certificates[chain[-1]]
    roots = {fp for fp, c in FACTS.certificates.items()
             if c.is_ca and c.self_issued and c.subject == top.issuer}
    return {*chain, *roots}


def _with_stores(stores: dict[str, list[str]], unread: frozenset[str] = frozenset()) -> Facts:
    nodes = []
    for node in FACTS.nodes:
        if node.host in unread:
            nodes.append(replace(node, installed=None))
        elif node.host in stores:
            entries = tuple(TrustEntry(f"entry-{i}.pem", (fp,))
                            for i, fp in enumerate(stores[node.host]))
            nodes.append(replace(node, installed=replace(node.installed, trust=entries)))
        else:
            nodes.append(node)
    return replace(FACTS, nodes=tuple(nodes))


def _chat_email(facts: Facts) -> tuple[str, set[str]]:
    result = evaluate(RULES, facts, settings_for(facts, phase="post"))
    sm = next(n for n in result.nodes if n.host == SM.host)
    return sm.gadgets["chat_email"].outcome, {f.rule_id for f in result.findings}


store = st.lists(st.sampled_from(CANDIDATES), max_size=6, unique=True)


@settings(max_examples=60, deadline=None)
@given(st.fixed_dictionaries({n.host: store for n in FACTS.nodes}))
def test_chat_email_is_broken_exactly_when_a_read_store_lacks_a_stated_chain(stores) -> None:
    sm_path = _path(SM.host, "web")
    uccx_paths = [_path(n.host, "finesse" if any(e.service == "finesse" for e in n.endpoints)
                        else "notification") for n in UCCX]
    lacks = (any(not set(stores[n.host]) & sm_path for n in UCCX)
             or any(not set(stores[SM.host]) & p for p in uccx_paths))
    outcome, rules = _chat_email(_with_stores(stores))
    assert (outcome == "broken") == lacks, (outcome, rules)
    stated = {"uccx-trust-lacks-socialminer-chain", "socialminer-trust-lacks-uccx-tomcat"}
    assert bool(rules & stated) == lacks


@settings(max_examples=40, deadline=None)
@given(st.fixed_dictionaries({n.host: store for n in FACTS.nodes}),
       st.sets(st.sampled_from([n.host for n in FACTS.nodes]), min_size=1))
def test_a_store_not_read_is_never_missing_and_never_moves_a_gadget(stores, unread) -> None:
    """Dropping readings only takes findings away: what remains known to be missing is
    judged, the rest is not; and with no store read at all, the FAQ outcome (works) stands."""
    outcome, rules = _chat_email(_with_stores(stores, frozenset(unread)))
    full_outcome, _ = _chat_email(_with_stores(stores))
    if outcome == "broken":
        assert full_outcome == "broken"
    if set(unread) >= {n.host for n in FACTS.nodes}:
        assert outcome == "works"
        assert not {r for r in rules if "trust" in r or "ipsec" in r}
