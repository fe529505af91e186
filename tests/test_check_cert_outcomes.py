"""check-cert's outcomes, as the audit's verdicts: "OK to upload" (go), "OK with warnings"
(go with actions), "NOT OK" (no-go) and "cannot tell" (inconclusive), with the audit's
exit codes. Through every FAQ row on every role, either certificate checked beside the
other; the row-4 trap from either side; without the other certificate never OK; and a
chain that the inputs cannot decide is never a "missing intermediate"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from cli_runner import invoke
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.collect.trust import AgentTrust
from auditor.lab import pki
from auditor.model.verdicts import EXIT_FINDINGS, EXIT_INCONCLUSIVE, EXIT_OK, VERDICT_EXIT
from auditor.pipeline.check_cert import check_cert

#: the upload checks' statuses (auditor.collect.checkcert)
PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"

HOSTS = {"uccx-publisher": "uccx1.example.com", "uccx-subscriber": "uccx2.example.com",
         "socialminer": "sm1.example.com"}
ROLES = tuple(HOSTS)
PURPOSES = ("tomcat", "tomcat-ECDSA")
KEY_KIND = {"tomcat": "rsa", "tomcat-ECDSA": "ec"}

#: Cisco's FAQ (210528) as (tomcat, tomcat-ECDSA) signed by: None self-signed, else the CA.
ROW_STATES = {1: ("self", "self"), 2: ("rsa", "rsa"), 3: ("rsa", "ec"), 4: ("rsa", "self")}
#: What check-cert must say on each role family for each row, from the FAQ's cells with
#: the agents trusting the CA (its `*`): row 1 prompts that accepting passes; row 2 works
#: on UCCX (the RSA-signed tomcat-ECDSA is not presented: an upload check warns that it
#: is not what Cisco recommends) and breaks chat/email and the SocialMiner page
#: (CSCvb58580); row 3 works; row 4 breaks Live Data on UCCX and prompts (accepting
#: works) for chat/email on SocialMiner.
EXPECTED = {
    (1, "uccx"): {"tomcat": "go_with_actions", "tomcat-ECDSA": "go_with_actions"},
    (1, "socialminer"): {"tomcat": "go_with_actions", "tomcat-ECDSA": "go_with_actions"},
    (2, "uccx"): {"tomcat": "go", "tomcat-ECDSA": "go_with_actions"},
    (2, "socialminer"): {"tomcat": "no_go", "tomcat-ECDSA": "no_go"},
    (3, "uccx"): {"tomcat": "go", "tomcat-ECDSA": "go"},
    (3, "socialminer"): {"tomcat": "go", "tomcat-ECDSA": "go"},
    (4, "uccx"): {"tomcat": "no_go", "tomcat-ECDSA": "no_go"},
    (4, "socialminer"): {"tomcat": "go_with_actions", "tomcat-ECDSA": "go_with_actions"},
}
#: The FAQ's cells for each gadget (rows 1-4; the Finesse and SocialMiner page cells are
#: inferred, DOMAIN.md), as the engine's outcomes.
CELLS = {
    1: {"finesse_desktop": "prompt_accept_works", "live_data": "prompt_accept_works",
        "chat_email": "prompt_accept_works", "socialminer_web": "prompt_accept_works"},
    2: {"finesse_desktop": "works", "live_data": "works", "chat_email": "broken",
        "socialminer_web": "broken"},
    3: {"finesse_desktop": "works", "live_data": "works", "chat_email": "works",
        "socialminer_web": "works"},
    4: {"finesse_desktop": "works", "live_data": "prompt_accept_fails",
        "chat_email": "prompt_accept_works", "socialminer_web": "works"},
}
#: The gadgets a certificate takes part in: those needing a port that presents it (the
#: solution map), and on SocialMiner in row 2 the page its tomcat-ECDSA breaks.
TAKES_PART = {("uccx", "tomcat"): {"finesse_desktop", "live_data"},
              ("uccx", "tomcat-ECDSA"): {"live_data"},
              ("socialminer", "tomcat"): {"chat_email", "socialminer_web"},
              ("socialminer", "tomcat-ECDSA"): {"chat_email"}}
OUTCOME_WORDS = {"go": "OK to upload", "go_with_actions": "OK with warnings",
                 "no_go": "NOT OK", "inconclusive": "cannot tell"}


def _family(role: str) -> str:
    return "socialminer" if role == "socialminer" else "uccx"


@dataclass(frozen=True)
class Node:
    """A node's two certificates in a given state, and the CA roots that signed them."""

    tomcat: x509.Certificate
    tomcat_ecdsa: x509.Certificate
    roots: tuple[x509.Certificate, ...]

    def of(self, purpose: str) -> x509.Certificate:
        return self.tomcat if purpose == "tomcat" else self.tomcat_ecdsa


def _issuer(signer: str) -> pki.Issued | None:
    ca = pki.hierarchies()
    return {"self": None, "rsa": ca.rsa_root, "ec": ca.ec_root}[signer]


def _node(role: str, tomcat: str, ecdsa: str) -> Node:
    host = HOSTS[role]
    certs = {}
    roots = []
    for purpose, signer in (("tomcat", tomcat), ("tomcat-ECDSA", ecdsa)):
        issuer = _issuer(signer)
        key = pki.key(f"outcome-{role}-{purpose}", KEY_KIND[purpose])
        certs[purpose] = pki.issue(host, key, issuer=issuer).cert
        if issuer is not None:
            roots.append(issuer.cert)
    return Node(certs["tomcat"], certs["tomcat-ECDSA"], tuple(roots))


def _check(node: Node, role: str, purpose: str, *, other: bool = True,
           chain: bool = True):
    other_purpose = next(p for p in PURPOSES if p != purpose)
    beside = {"other": [node.of(other_purpose)]} if other else {}
    return check_cert([node.of(purpose)], purpose, chain=node.roots if chain else (),
                      host=HOSTS[role], role=role, **beside)


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", sorted(ROW_STATES))
def test_every_faq_row_on_every_role_gives_the_faq_outcome(row: int, role: str,
                                                           purpose: str) -> None:
    node = _node(role, *ROW_STATES[row])
    checked = _check(node, role, purpose)
    expected = EXPECTED[(row, _family(role))][purpose]
    assert checked.outcome == expected, [(g, r.outcome, r.rules) for g, r in checked.gadgets]
    assert checked.exit_code == VERDICT_EXIT[expected]
    assert checked.ok == (expected in ("go", "go_with_actions"))
    # each gadget it takes part in, with the FAQ's cell
    expected_gadgets = set(TAKES_PART[(_family(role), purpose)])
    if row == 2 and _family(role) == "socialminer":
        expected_gadgets.add("socialminer_web")
    assert {g for g, _ in checked.gadgets} == expected_gadgets
    assert {g: r.outcome for g, r in checked.gadgets} == {
        g: CELLS[row][g] for g in expected_gadgets}
    # OK to upload only where every check passes and every gadget it predicts works
    if expected == "go":
        assert all(c.status == PASS for c in checked.case.checks)
        assert all(r.outcome == "works" for _, r in checked.gadgets)


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", sorted(ROW_STATES))
def test_without_the_other_certificate_it_is_never_ok(row: int, role: str,
                                                      purpose: str) -> None:
    """What a gadget gets depends on both certificates of the node (row 4 is a CA-signed
    tomcat beside a self-signed tomcat-ECDSA): with one of them unknown, check-cert cannot
    say OK; it says what it cannot tell, or NOT OK where this certificate alone breaks a
    gadget (an RSA-signed tomcat-ECDSA on SocialMiner, CSCvb58580)."""
    node = _node(role, *ROW_STATES[row])
    checked = _check(node, role, purpose, other=False)
    assert not checked.ok, [(g, r.outcome, r.rules) for g, r in checked.gadgets]
    alone_breaks = (row == 2 and _family(role) == "socialminer" and purpose == "tomcat-ECDSA")
    assert checked.outcome == ("no_go" if alone_breaks else "inconclusive"), [
        (g, r.outcome, r.rules) for g, r in checked.gadgets]
    if not alone_breaks:
        assert checked.wants_other, "the gadget line does not say what is missing"


def _write(path, *certs: x509.Certificate) -> str:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return str(path)


@pytest.mark.parametrize("role", ["uccx-publisher", "uccx-subscriber"])
def test_the_row_4_trap_is_not_ok_from_either_side(tmp_path, role: str) -> None:
    """A self-signed tomcat-ECDSA beside a CA-signed tomcat (the upgrade trap), checked
    as the tomcat-ECDSA with --tomcat, or as the tomcat with --tomcat-ecdsa: NOT OK, exit
    1; the tomcat-ECDSA alone: cannot tell, exit 3; never "OK"."""
    node = _node(role, "rsa", "self")
    ecdsa = _write(tmp_path / "ecdsa.pem", node.tomcat_ecdsa)
    tomcat = _write(tmp_path / "tomcat.pem", node.tomcat)
    root = _write(tmp_path / "root.pem", *node.roots)
    host = HOSTS[role]
    runs = {
        "ecdsa beside tomcat": invoke("check-cert", ecdsa, "--purpose", "tomcat-ECDSA",
                                      "--tomcat", tomcat, "--chain", root, "--host", host,
                                      "--role", role),
        "tomcat beside ecdsa": invoke("check-cert", tomcat, "--purpose", "tomcat",
                                      "--tomcat-ecdsa", ecdsa, "--chain", root, "--host",
                                      host, "--role", role),
    }
    for name, done in runs.items():
        assert done.returncode == EXIT_FINDINGS, name + done.stdout + done.stderr
        assert done.stdout.rstrip().endswith("NOT OK: do not upload it as it is"), name
        assert "(rule live-data-prompt-cannot-be-accepted)" in done.stdout, name
        assert "Live Data gadget: prompt, accepting FAILS" in done.stdout, name
    alone = invoke("check-cert", ecdsa, "--purpose", "tomcat-ECDSA", "--host", host,
                   "--role", role)
    assert alone.returncode == EXIT_INCONCLUSIVE, alone.stdout + alone.stderr
    last = alone.stdout.rstrip().splitlines()[-1]
    assert last.startswith("cannot tell") and "OK" not in last
    assert "Live Data gadget: unknown" in alone.stdout and "--tomcat FILE" in alone.stdout


def test_a_gadget_it_prints_unknown_is_never_ok(tmp_path) -> None:
    """An RSA-signed tomcat-ECDSA on UCCX is not presented: port 12015 then presents the
    tomcat, which check-cert was not given. It printed "Live Data gadget: unknown" and
    "OK: it will work"; now it cannot tell (exit 3), and OK once the tomcat is given."""
    node = _node("uccx-publisher", "rsa", "rsa")
    ecdsa = _write(tmp_path / "ecdsa.pem", node.tomcat_ecdsa)
    tomcat = _write(tmp_path / "tomcat.pem", node.tomcat)
    root = _write(tmp_path / "root.pem", *node.roots)
    host = HOSTS["uccx-publisher"]
    alone = invoke("check-cert", ecdsa, "--purpose", "tomcat-ECDSA", "--chain", root,
                   "--host", host)
    assert alone.returncode == EXIT_INCONCLUSIVE, alone.stdout + alone.stderr
    assert "Live Data gadget: unknown" in alone.stdout
    assert "OK" not in alone.stdout.rstrip().splitlines()[-1]
    beside = invoke("check-cert", ecdsa, "--purpose", "tomcat-ECDSA", "--chain", root,
                    "--host", host, "--tomcat", tomcat)
    assert beside.returncode == EXIT_OK, beside.stdout + beside.stderr
    assert beside.stdout.rstrip().endswith("OK with warnings: it will work; read the "
                                           "warnings above")
    assert "Live Data gadget: works" in beside.stdout


def test_a_good_leaf_issued_by_a_root_is_not_missing_an_intermediate(tmp_path) -> None:
    """Without --chain a leaf issued directly by a root was "NOT OK ... the chain stops at
    <root>" plus a "without the intermediate CA" finding. Its issuer is a root the trust
    input holds: the chain is complete (OK); with no input about the CA it cannot be
    told (exit 3), never NOT OK and never a missing intermediate."""
    node = _node("uccx-publisher", "rsa", "ec")
    ecdsa = _write(tmp_path / "ecdsa.pem", node.tomcat_ecdsa)
    tomcat = _write(tmp_path / "tomcat.pem", node.tomcat)
    roots = _write(tmp_path / "roots.pem", *node.roots)
    host = HOSTS["uccx-publisher"]
    trusted = invoke("check-cert", ecdsa, "--purpose", "tomcat-ECDSA", "--tomcat", tomcat,
                     "--agent-trust", roots, "--host", host)
    assert trusted.returncode == EXIT_OK, trusted.stdout + trusted.stderr
    assert "PASS  chain     the chain reaches the root CN=Lab EC Root CA" in trusted.stdout
    assert trusted.stdout.rstrip().endswith("OK to upload")
    undecided = invoke("check-cert", ecdsa, "--purpose", "tomcat-ECDSA", "--tomcat",
                       tomcat, "--host", host)
    assert undecided.returncode == EXIT_INCONCLUSIVE, undecided.stdout + undecided.stderr
    for text in ("without the intermediate", "FAIL  chain", "NOT OK"):
        assert text not in undecided.stdout, text
    assert "UNKNOWN  chain" in undecided.stdout and "--chain" in undecided.stdout


def test_the_other_certificate_must_be_of_the_other_purpose(tmp_path) -> None:
    node = _node("uccx-publisher", "rsa", "ec")
    ecdsa = _write(tmp_path / "ecdsa.pem", node.tomcat_ecdsa)
    tomcat = _write(tmp_path / "tomcat.pem", node.tomcat)
    same = invoke("check-cert", ecdsa, "--purpose", "tomcat-ECDSA", "--tomcat-ecdsa", ecdsa)
    assert same.returncode == 2 and "--tomcat-ecdsa" in same.stderr
    assert len(same.stderr.strip().splitlines()) == 1
    swapped = invoke("check-cert", ecdsa, "--purpose", "tomcat-ECDSA", "--tomcat", ecdsa)
    assert swapped.returncode == 2, swapped.stdout + swapped.stderr
    assert "--tomcat" in swapped.stderr and "RSA" in swapped.stderr
    assert len(swapped.stderr.strip().splitlines()) == 1
    assert invoke("check-cert", tomcat, "--purpose", "tomcat", "--tomcat-ecdsa",
                  tomcat).returncode == 2


# --- the chain, as a property: what is given decides what is said ------------------------

def _hierarchy(depth: int) -> tuple[pki.Issued, list[pki.Issued], x509.Certificate]:
    """A root, ``depth`` intermediates below it, and an EC leaf for the node."""
    root = pki.hierarchies().ec_root
    cas = []
    issuer = root
    for level in range(depth):
        issuer = pki.issue(f"Lab EC Intermediate {depth}-{level}",
                           pki.key(f"outcome-int-{depth}-{level}", "ec"), ca=True,
                           issuer=issuer, unit="PKI")
        cas.append(issuer)
    leaf = pki.issue(HOSTS["uccx-publisher"], pki.key("outcome-leaf", "ec"), issuer=issuer)
    return root, cas, leaf.cert


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depth=st.integers(0, 2), given_intermediates=st.sets(st.integers(0, 1)),
       root_in_chain=st.booleans(), root_in_trust=st.booleans())
def test_the_chain_check_says_only_what_its_inputs_decide(
        depth: int, given_intermediates: set[int], root_in_chain: bool,
        root_in_trust: bool) -> None:
    root, cas, leaf = _hierarchy(depth)
    chain = [cas[i].cert for i in sorted(given_intermediates) if i < depth]
    if root_in_chain:
        chain.append(root.cert)
    trust = AgentTrust("agents", (root.cert,) if root_in_trust else ())
    tomcat = pki.issue(HOSTS["uccx-publisher"], pki.key("outcome-rsa", "rsa"),
                       issuer=pki.hierarchies().rsa_root).cert
    checked = check_cert([leaf], "tomcat-ECDSA", other=[tomcat, pki.hierarchies().rsa_root.cert],
                         chain=chain, trust=trust, host=HOSTS["uccx-publisher"],
                         at=dt.datetime.now(dt.timezone.utc))
    status = next(c for c in checked.case.checks if c.name == "chain")
    complete = len(chain) - root_in_chain == depth and (root_in_chain or root_in_trust)
    if complete:
        assert status.status == PASS, status
    elif not chain:
        # nothing about the CA given and the trust does not issue the top: a root or an
        # intermediate cannot be told apart
        assert status.status == UNKNOWN, status
        assert checked.outcome == "inconclusive"
    else:
        # certificates of the CA were given and the one the chain needs is not among them
        assert status.status == FAIL, status
        assert checked.outcome == "no_go"
    if depth == 0:
        assert not any("intermediate" in f.message for f in checked.findings)
        assert status.status != FAIL or not root_in_trust
    assert checked.ok == (checked.outcome in ("go", "go_with_actions"))
    if checked.ok:
        assert status.status == PASS
        assert all(r.outcome in ("works", "prompt_accept_works") for _, r in checked.gadgets)


def test_the_outcome_words_are_the_last_line_and_the_exit_code_the_audits(tmp_path) -> None:
    for row, (tomcat, ecdsa) in ROW_STATES.items():
        node = _node("uccx-publisher", tomcat, ecdsa)
        files = {p: _write(tmp_path / f"{row}-{p}.pem", node.of(p)) for p in PURPOSES}
        args = ["--chain", _write(tmp_path / f"{row}-roots.pem", *node.roots)] \
            if node.roots else []
        done = invoke("check-cert", files["tomcat-ECDSA"], "--purpose", "tomcat-ECDSA",
                      "--tomcat", files["tomcat"], "--host", HOSTS["uccx-publisher"], *args)
        expected = EXPECTED[(row, "uccx")]["tomcat-ECDSA"]
        assert done.returncode == VERDICT_EXIT[expected], done.stdout + done.stderr
        assert done.stdout.rstrip().splitlines()[-1].startswith(OUTCOME_WORDS[expected])


@pytest.mark.parametrize("role", ["uccx-publisher", "uccx-subscriber", "socialminer", "cucm"])
def test_where_the_ca_goes_follows_the_role(tmp_path, role: str) -> None:
    """The CA goes into tomcat-trust where the map says: on the role that replicates it to
    this one, else on this node; a CUCM is no SocialMiner."""
    from auditor.model.solution import current

    node = _node("uccx-publisher", "rsa", "ec")
    tomcat = _write(tmp_path / "tomcat.pem", node.tomcat)
    root = _write(tmp_path / "root.pem", *node.roots)
    done = invoke("check-cert", tomcat, "--purpose", "tomcat", "--chain", root, "--role", role)
    assert done.returncode in (EXIT_OK, EXIT_FINDINGS, EXIT_INCONCLUSIVE), done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("Upload to tomcat-trust"))
    roles = current().roles
    source = next((r for r in roles.values() if r.replicates_trust_to == role), roles[role])
    assert f"on the {source.title}" in line, line
    for other in roles.values():
        if other.name not in (role, source.name, source.replicates_trust_to):
            assert other.title not in line, line


SIGNERS = ("self", "rsa", "ec")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tomcat=st.sampled_from(SIGNERS), ecdsa=st.sampled_from(SIGNERS),
       role=st.sampled_from(ROLES), purpose=st.sampled_from(PURPOSES),
       other=st.booleans(), chain=st.booleans())
def test_never_ok_while_something_it_predicts_is_not_known(
        tomcat: str, ecdsa: str, role: str, purpose: str, other: bool, chain: bool) -> None:
    """Beyond the FAQ's four rows (any signer for either certificate, with or without the
    other certificate and the CA): OK only where every upload check is decided and passes
    or warns and every gadget it predicts works or prompts with accepting working; never
    OK without the other certificate; a CA-signed tomcat beside a self-signed tomcat-ECDSA
    on UCCX is NOT OK whatever else is given (row 4 follows from the states)."""
    node = _node(role, tomcat, ecdsa)
    checked = _check(node, role, purpose, other=other, chain=chain)
    assert checked.exit_code == VERDICT_EXIT[checked.outcome]
    if checked.ok:
        assert other
        assert all(c.status in (PASS, "warn") for c in checked.case.checks), checked.case.checks
        assert all(r.outcome in ("works", "prompt_accept_works") for _, r in checked.gadgets)
    if any(r.outcome == "unknown" for _, r in checked.gadgets):
        assert checked.outcome in ("inconclusive", "no_go")
    if any(r.outcome in ("broken", "prompt_accept_fails") for _, r in checked.gadgets):
        assert checked.outcome == "no_go"
    if _family(role) == "uccx" and tomcat != "self" and ecdsa == "self" and other:
        assert checked.outcome == "no_go", [(g, r.outcome) for g, r in checked.gadgets]
