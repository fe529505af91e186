"""A first real cluster in five minutes: `init` writes files the tool's own loaders take,
quick look takes HOST:PORT@ROLE, and every example in --help runs against the lab."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from cli_runner import invoke
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.cli.app import COMMAND_MODULES
from auditor.cli.probe import _quick_inventory
from auditor.collect.inventory import load_inventory
from auditor.common.errors import InputError
from auditor.evaluate.ruleset import load_ruleset
from auditor.evaluate.waivers import load_waivers
from auditor.lab import Lab
from auditor.model.cluster import DEFAULT_PORTS, role_family

ROLES = ["uccx-publisher", "uccx-subscriber", "socialminer"]


def test_init_writes_an_inventory_and_waivers_the_tool_loads(tmp_path: Path) -> None:
    done = invoke("init", "--out", tmp_path / "site", "--with-config", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    inventory = load_inventory(tmp_path / "site" / "inventory.yaml")
    assert inventory.nodes and all(n.host.endswith(".example.com") for n in inventory.nodes)
    ruleset = load_ruleset([])
    hosts = [n.host for n in inventory.nodes]
    assert load_waivers(tmp_path / "site" / "waivers.yaml", ruleset, hosts).waivers == ()
    # the commented example is a waiver the tool takes, once uncommented
    text = (tmp_path / "site" / "waivers.yaml").read_text()
    example = "\n".join(line[2:] for line in text.split("\n# waivers:")[1].splitlines()
                        if line.startswith("#   "))
    example = "waivers:\n" + example
    (tmp_path / "example.yaml").write_text(example + "\n")
    assert len(load_waivers(tmp_path / "example.yaml", ruleset, hosts).waivers) == 1
    # the config file reads, and its commented settings read once uncommented
    assert invoke("rules", "--format", "json", cwd=tmp_path / "site").returncode == 0
    toml = (tmp_path / "site" / "uccx-audit.toml").read_text()
    (tmp_path / "uccx-audit.toml").write_text(re.sub(r"(?m)^# (\S+ = )", r"\1", toml))
    (tmp_path / "site-rules").mkdir()
    done = invoke("rules", "--format", "json", cwd=tmp_path)
    assert done.returncode in (0, 2) and "uccx-audit.toml" not in done.stderr, done.stderr


@pytest.mark.parametrize("existing", ["inventory.yaml", "waivers.yaml", "uccx-audit.toml"])
def test_init_never_overwrites_and_names_the_file(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("mine\n")
    done = invoke("init", "--with-config", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (f"error: {existing}: is there already; nothing was written "
                           "(expected a folder without it, or --out DIR)\n")
    assert (tmp_path / existing).read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]


hosts = st.sampled_from(["uccx1.example.com", "sm1.example.com", "10.0.0.5", "[::1]",
                         "[2001:db8::15]", "node-2.site.example"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(hosts, st.sampled_from(ROLES),
                          st.sampled_from([None, 8445, 7443, 12015, 443, 8444])),
                min_size=1, max_size=4, unique_by=lambda t: t[0]))
def test_quick_look_takes_a_role_per_host(targets: list) -> None:
    texts, ports = [], []
    for host, role, port in targets:
        if port is not None and port not in DEFAULT_PORTS[role_family(role)].values():
            port = None
        ports.append(port)
        texts.append(f"{host}{'' if port is None else f':{port}'}@{role}")
    roles = [role for _, role, _ in targets]
    if roles.count("uccx-publisher") > 1 or roles.count("uccx-subscriber") > 1:
        with pytest.raises(InputError):
            _quick_inventory(texts, "uccx-publisher", "11.5(1)")
        return
    inventory = _quick_inventory(texts, "uccx-publisher", "11.5(1)")
    got = {n.host.strip("[]"): n.role for n in inventory.nodes}
    assert got == {host.strip("[]"): role for host, role, _ in targets}
    for node, port in zip(inventory.nodes, ports, strict=True):
        assert list(node.ports.values()) == ([] if port is None else [port])


@pytest.mark.parametrize("target", ["uccx1.example.com:8445@publisher",
                                    "uccx1.example.com@", "@socialminer",
                                    "[::1]:8445@UCCX-PUBLISHER", "sm1:443@socialminer@x"])
def test_a_bad_role_is_one_line_listing_the_roles(target: str) -> None:
    done = invoke("probe", target)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "uccx-publisher, uccx-subscriber, socialminer" in done.stderr


def test_one_host_with_two_roles_is_refused() -> None:
    done = invoke("probe", "a.example.com:8445@uccx-publisher",
                  "a.example.com:443@socialminer")
    assert done.returncode == 2 and "one role per host" in done.stderr


# -- every example of --help runs ------------------------------------------------------

def _help_texts() -> list[str]:
    texts = [invoke("--help").stdout]
    for module in COMMAND_MODULES:
        texts += [invoke(name, "--help").stdout for name in module.commands.names()]
    return texts


def _examples() -> list[str]:
    found = []
    for text in _help_texts():
        lines = text.replace("\b", "").splitlines()
        for index, line in enumerate(lines):
            if line.strip() != "Examples:":
                continue
            for example in lines[index + 1:]:
                if not example.strip():
                    break
                found.append(example.strip())
    return list(dict.fromkeys(found))


def test_the_help_texts_have_examples() -> None:
    examples = _examples()
    assert len(examples) > 20
    assert "uccx-audit probe uccx1.example.com:12015 sm1.example.com:7443@socialminer" \
        in examples


def _workspace(lab: Lab, where: Path) -> dict[str, str]:
    """Files named by the examples, made from the lab; quick-look names -> lab addresses."""
    shutil.copy(lab.inventory_path, where / "cluster.yaml")
    shutil.copy(lab.agent_trust_path, where / "cas.pem")
    (where / "customers").mkdir()
    shutil.copy(lab.inventory_path, where / "customers" / "east.yaml")
    assert invoke("init", "--out", where / "starter").returncode == 0
    shutil.copy(where / "starter" / "waivers.yaml", where / "waivers.yaml")
    substitutes = {}
    for endpoint in lab.endpoints:
        family = role_family(endpoint.role)
        usual = DEFAULT_PORTS[family].get(endpoint.service)
        name = "uccx1.example.com" if family == "uccx" else "sm1.example.com"
        if endpoint.role in ("uccx-publisher", "socialminer"):
            substitutes[f"{name}:{usual}"] = f"{endpoint.address}:{endpoint.port}"
    return substitutes


def test_every_help_example_runs_against_the_lab(tmp_path: Path) -> None:
    """Each example is run as printed, its host names swapped for the lab's loopback
    addresses; none may be refused for what it says itself (exit 2) or crash (exit 4).
    Examples that read files the earlier ones wrote run after them."""
    examples = _examples()
    failed: list[str] = []
    with Lab("pre-upgrade-ca-signed") as lab:  # pre and post examples both apply
        substitutes = _workspace(lab, tmp_path)
        first = [e for e in examples if " probe " in e or " audit " in e or " demo" in e]
        for number, example in enumerate(first + [e for e in examples if e not in first]):
            if number == len(first):  # facts as probed with the agents' trust: see below
                assert invoke("probe", "-i", "cluster.yaml", "--agent-trust", "cas.pem",
                              "--out", "facts.json", cwd=tmp_path).returncode == 0
            words = shlex.split(example, comments=True)
            if words[0].startswith("UCCX_AUDIT_CLI_PASSWORD="):
                continue  # --cli: the lab has no VOS CLI; test_vos_cli runs it
            if ">" in words:
                words = words[:words.index(">")]
            assert words[0] == "uccx-audit", example
            args = [substitutes.get(w.split("@")[0], w.split("@")[0])
                    + ("@" + w.split("@")[1] if "@" in w else "") for w in words[1:]]
            if "--pdf" in args or "pdf" in args:
                continue  # a browser: test_pdf
            if "--serve" in args:
                continue  # runs until Ctrl-C: test_terminal_output serves and stops it
            fresh = tmp_path / f"fresh-{number}"  # init writes where nothing is
            fresh.mkdir()
            done = invoke(*args, cwd=fresh if args[0] == "init" else tmp_path)
            refused = done.returncode == 4 or (done.returncode == 2 and (
                # only a file that no earlier example made may be missing
                not re.search(r"(file|folder) not found|no such folder", done.stderr)
                or "Usage:" in done.stderr))
            if refused:
                failed.append(f"{example}\n  exit {done.returncode}: {done.stderr}")
    assert not failed, "\n".join(failed)
    assert json.loads((tmp_path / "facts.json").read_text())["nodes"]


def test_facts_probed_with_the_system_store_can_be_evaluated(tmp_path: Path) -> None:
    with Lab("pre-upgrade-ca-signed") as lab:
        assert invoke("probe", "-i", lab.inventory_path, "--out", tmp_path / "facts.json"
                      ).returncode == 0
    done = invoke("evaluate", tmp_path / "facts.json", "--phase", "post")
    assert done.returncode != 2, done.stderr
