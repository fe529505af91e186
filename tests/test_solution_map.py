"""The solution map (rules/solution.yaml) is the one place that spells the layout of the
solution: the source holds no port it names, no role name and no gadget-to-endpoint table;
the map itself is checked beyond its schema; a rule or playbook naming what the map lacks is
refused with its file and line; a site's map adds a port of its own that reaches the probe,
the report and the plan."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
import yaml
from audits import audit_json
from cli_runner import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.common.errors import InputError
from auditor.evaluate.ruleset import load_playbook, load_ruleset
from auditor.lab import Lab
from auditor.model.solution import builtin, builtin_path, load_solution, using, with_site

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "auditor"
RULES = ROOT / "rules"
#: The map's loader is the one module allowed to know the map's shape.
LOADER = Path("model") / "solution.py"


def map_violations(package: Path) -> list[str]:
    """``path:line: what`` for each port number of the map, role name or gadget-to-endpoint
    table spelled in the package's Python source (outside the map's loader)."""
    solution = builtin()
    ports = solution.all_ports()
    roles = set(solution.roles)
    gadgets = set(solution.gadgets)
    services = set(solution.all_services())
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative == LOADER:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            where = f"{relative}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Constant) and type(node.value) is int and node.value in ports:
                found.append(f"{where}: port {node.value}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value in roles:
                found.append(f"{where}: role {node.value!r}")
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if not (isinstance(key, ast.Constant) and key.value in gadgets):
                        continue
                    items = value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]
                    if any(isinstance(i, ast.Constant) and i.value in services for i in items):
                        found.append(f"{where}: gadget {key.value!r} mapped to endpoints")
    return found


# -- the source ---------------------------------------------------------------------------

def test_the_source_spells_no_port_role_or_gadget_table_of_the_map() -> None:
    assert map_violations(PACKAGE) == []


PLANTS = {
    "port": "DEFAULT = {port}\n",
    "port in a call": "def probe_default(host):\n    return (host, {port})\n",
    "role": "DEFAULT_ROLE = {role!r}\n",
    "role in a comparison": "def is_it(node):\n    return node.role == {role!r}\n",
    "gadget table": "NEEDS = {{{gadget!r}: ({service!r},)}}\n",
}


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("src") / "auditor"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "_data"))
    return copy


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(PLANTS)), data=st.data())
def test_a_planted_fact_is_found_with_its_file_and_line(source_copy, kind, data) -> None:
    solution = builtin()
    copy = source_copy
    modules = sorted(p for p in copy.rglob("*.py") if p.relative_to(copy) != LOADER)
    target = data.draw(st.sampled_from(modules))
    gadget = data.draw(st.sampled_from(sorted(solution.gadgets)))
    planted = PLANTS[kind].format(
        port=data.draw(st.sampled_from(sorted(solution.all_ports()))),
        role=data.draw(st.sampled_from(sorted(solution.roles))),
        gadget=gadget, service=data.draw(st.sampled_from(solution.gadgets[gadget].needs)))
    original = target.read_text(encoding="utf-8")
    lines = original.count("\n")
    try:
        target.write_text(original + "\n" + planted, encoding="utf-8")
        found = map_violations(copy)
    finally:
        target.write_text(original, encoding="utf-8")
    relative = target.relative_to(copy)
    planted_lines = range(lines + 2, lines + 2 + planted.count("\n"))
    assert any(v.startswith(f"{relative}:{n}:") for v in found for n in planted_lines), (
        kind, found)


def test_ssh_and_https_defaults_that_are_not_map_ports_are_not_flagged(tmp_path) -> None:
    copy = tmp_path / "auditor"
    (copy / "x").mkdir(parents=True)
    (copy / "x" / "m.py").write_text("SSH_PORT = 22\nTIMEOUT = 3\n", encoding="utf-8")
    assert map_violations(copy) == []


# -- the map is checked beyond its schema -------------------------------------------------

def _broken_map(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(builtin_path().read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "solution.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


MAP_MISTAKES = {
    "gadget needs a service its family lacks": (
        lambda d: d["gadgets"]["live_data"]["needs"].append("web"),
        "gadgets.live_data.needs[3]: 'web' is not a service of the uccx family"),
    "two services of a family on one port": (
        lambda d: d["families"]["uccx"]["services"]["cuic"].update(port=8445),
        "families.uccx.services.cuic.port: port 8445 is already the port of finesse"),
    "role of an unknown family": (
        lambda d: d["roles"]["socialminer"].update(family="ccp"),
        "roles.socialminer.family: unknown family 'ccp'"),
    "FAQ row without a gadget": (
        lambda d: d["faq"][0]["outcomes"].pop("chat_email"),
        "faq[0].outcomes: no cell for chat_email"),
    "FAQ row listed twice": (
        lambda d: d["faq"][1].update(row=1),
        "faq[1].row: row 1 is listed twice"),
}


@pytest.mark.parametrize("case", sorted(MAP_MISTAKES))
def test_the_map_loader_refuses_a_map_that_contradicts_itself(tmp_path, case) -> None:
    change, message = MAP_MISTAKES[case]
    path = _broken_map(tmp_path, change)
    with pytest.raises(InputError) as caught:
        load_solution(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:") and message in text, text
    assert "\n" not in text


# -- meta-tests: rules and playbooks name only what the map holds ---------------------------

def _site_rule(tmp_path: Path, source: str, change) -> Path:
    folder = tmp_path / "site"
    folder.mkdir(exist_ok=True)
    data = yaml.safe_load((RULES / f"{source}.yaml").read_text(encoding="utf-8"))
    data["id"] = f"site-{source}"
    change(data)
    path = folder / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _rule_sources() -> list[str]:
    return sorted(p.stem for p in RULES.glob("*.yaml") if p.name != "solution.yaml")


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from(_rule_sources()),
       name=st.from_regex(r"[a-z][a-z0-9_]{2,12}", fullmatch=True),
       field=st.sampled_from(["role", "service", "gadget"]))
def test_a_rule_naming_what_the_map_lacks_is_refused_with_file_and_line(
        tmp_path_factory, source, name, field) -> None:
    solution = builtin()
    if name in (*solution.roles, *solution.all_services(), *solution.gadgets):
        return
    tmp_path = tmp_path_factory.mktemp("meta")

    def change(data):
        applies = data["applies_to"]
        if field == "role":
            applies["roles"] = [*applies["roles"], name]
        elif field == "service":
            if data["scope"] == "node":
                data["scope"] = "endpoint"
            applies["services"] = [name]
        else:
            data["effects"] = {**data["effects"], name: "unknown"}
            data["settle"] = data.get("settle") or "reach the host and run the audit again"
            data["severity"] = "error"
    path = _site_rule(tmp_path, source, change)
    with pytest.raises(InputError) as caught:
        load_ruleset([path.parent])
    text = str(caught.value).splitlines()[0]
    assert text.startswith(f"{path}:"), text
    assert f"'{name}' is not allowed (expected " in text and "one of: " in text, text
    line = int(text[len(str(path)) + 1:].split(":")[0])
    lines = path.read_text().splitlines()
    # the name's own line; for a gadget (a key of effects) the schema may name the block
    assert name in lines[line - 1] or (field == "gadget"
                                       and lines[line - 1].startswith("effects:")), text


def test_a_playbook_naming_a_role_the_map_lacks_is_refused(tmp_path) -> None:
    source = RULES / "playbooks" / "renew-certificate.yaml"
    text = source.read_text(encoding="utf-8")
    assert "\nroles: [" in text
    path = tmp_path / source.name
    path.write_text(text.replace("\nroles: [", "\nroles: [cuic-server, ", 1), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_playbook(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:{_line_of(path, 'cuic-server')}: roles[0]: ")
    assert "'cuic-server' is not allowed (expected one of: uccx-publisher, " in text


def test_a_site_map_lets_a_rule_name_the_service_it_adds(tmp_path) -> None:
    path = _site_rule(tmp_path, "certificate-expired",
                      lambda d: d["applies_to"].update(services=["recording"]))
    with pytest.raises(InputError):
        load_ruleset([path.parent])
    (path.parent / "solution.yaml").write_text(SITE_MAP, encoding="utf-8")
    ruleset = load_ruleset([path.parent])
    assert ruleset.rule(f"site-{'certificate-expired'}").services == ("recording",)
    assert "recording" in ruleset.solution.services("uccx")


# -- a site's map ---------------------------------------------------------------------------

SITE_MAP = """\
families:
  uccx:
    services:
      recording:
        port: 9443
        title: call recording
        probe: default
        agents: true
"""


def test_a_site_map_adds_a_service_and_cannot_redefine_one(tmp_path) -> None:
    path = tmp_path / "solution.yaml"
    path.write_text(SITE_MAP, encoding="utf-8")
    solution = with_site(builtin(), path)
    assert solution.default_ports("uccx")["recording"] == 9443
    assert solution.families["uccx"].agents[-1] == "recording"
    assert builtin().default_ports("uccx").get("recording") is None
    for text, message in (
            (SITE_MAP.replace("recording:", "live_data:"),
             "'live_data' is already a service of uccx (built-in)"),
            (SITE_MAP.replace("9443", "8445"), "port 8445 is already the port of finesse"),
            (SITE_MAP.replace("uccx:", "cvp:"), "unknown family 'cvp'"),
            ("roles:\n  cvp: {family: uccx, title: CVP, short: cvp, steps_on: CVP}\n",
             "a site map may only add services")):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InputError) as caught:
            with_site(builtin(), path)
        assert str(caught.value).startswith(f"{path}:") and message in str(caught.value)


def test_a_site_map_port_reaches_the_probe_the_report_and_the_plan(tmp_path) -> None:
    """A site adds its own service (call recording on a port of its own) on the UCCX nodes:
    the lab, reading the same map, serves it; ``probe`` and ``audit`` with ``--rules`` probe
    it, the HTML report shows it and the plan lists it among the Firefox exceptions. Without
    the site map the inventory that names it is refused with its file and line."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "solution.yaml").write_text(SITE_MAP, encoding="utf-8")
    with using(with_site(builtin(), site / "solution.yaml")):
        lab = Lab("row1-self-signed", tmp_path / "lab")
        lab.start()
    try:
        ports = {e.host: e.port for e in lab.endpoints if e.service == "recording"}
        assert sorted(ports) == sorted(n.host for n in lab.scenario.nodes
                                       if builtin().family_of(n.role) == "uccx")
        refused = invoke("probe", "--inventory", lab.inventory_path,
                         "--out", tmp_path / "refused.json")
        assert refused.returncode == 2
        assert f"{lab.inventory_path}:" in refused.stderr
        assert "nodes[0].ports: 'recording' is not allowed" in refused.stderr
        assert not (tmp_path / "refused.json").exists()

        probed = invoke("probe", "--inventory", lab.inventory_path, "--rules", site,
                        "--out", tmp_path / "facts.json")
        assert probed.returncode == 0, probed.stderr
        facts = json.loads((tmp_path / "facts.json").read_text(encoding="utf-8"))
        seen = {(n["host"], e["service"]): e for n in facts["nodes"] for e in n["endpoints"]}
        for host, port in ports.items():
            endpoint = seen[(host, "recording")]
            assert endpoint["port"] == port
            assert {h["profile"]: h["ok"] for h in endpoint["handshakes"]}["browser"]

        audited = invoke("audit", "--inventory", lab.inventory_path, "--rules", site,
                         "--phase", "post", "--out", tmp_path / "out")
        assert audited.returncode in (0, 1), audited.stderr
        audit = audit_json(tmp_path / "out" / "audit.json")
        assert {(n["host"], e["port"]) for n in audit["facts"]["nodes"]
                for e in n["endpoints"] if e["service"] == "recording"} == set(ports.items())
        html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
        for port in ports.values():
            assert f"call recording — port {port}" in html
        plan = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
        exceptions = next(line for line in plan.splitlines() if "Add Exception" in line)
        for host, port in ports.items():
            assert f"{host}:{port}" in exceptions
    finally:
        lab.stop()


FACTS = ROOT / "fixtures" / "facts" / "row3-ec-signed-ecdsa.json"


@settings(max_examples=30, deadline=None)
@given(name=st.from_regex(r"[a-z][a-z0-9_-]{1,20}", fullmatch=True),
       where=st.sampled_from(["role", "service"]))
def test_facts_naming_a_role_or_service_the_map_lacks_are_refused(name, where) -> None:
    """The facts schema no longer lists the names: the loader checks them against the map,
    and an unknown one is a one-line error naming the field, never a crash later."""
    from auditor.model.facts import facts_from_data

    solution = builtin()
    if name in (*solution.roles, *solution.all_services()):
        return
    data = json.loads(FACTS.read_text(encoding="utf-8"))
    if where == "role":
        data["nodes"][0]["role"] = name
        field = "nodes[0].role"
    else:
        data["nodes"][0]["endpoints"][0]["service"] = name
        field = "nodes[0].endpoints[0].service"
    with pytest.raises(InputError) as caught:
        facts_from_data(data, path="facts.json")
    assert str(caught.value).startswith(f"facts.json: {field}: '{name}' is not allowed")
    assert "\n" not in str(caught.value)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.from_regex(r"[a-z][a-z0-9_-]{1,20}", fullmatch=True))
def test_an_inventory_naming_a_role_the_map_lacks_is_refused(tmp_path, name) -> None:
    from auditor.collect.inventory import load_inventory

    if name in builtin().roles:
        return
    path = tmp_path / "cluster.yaml"
    path.write_text(f'cluster: c\nversion: "11.5(1)"\nnodes:\n  - host: a.example\n'
                    f'    role: {name}\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    assert str(caught.value).startswith(f"{path}:5: nodes[0].role: '{name}' is not allowed")


def test_a_site_map_is_in_force_for_its_command_only(tmp_path) -> None:
    """After a command run with a site's map, the next command (in the same process, as a
    service or the tests run them) sees the built-in map again."""
    from auditor.model.solution import current

    site = tmp_path / "site"
    site.mkdir()
    (site / "solution.yaml").write_text(SITE_MAP, encoding="utf-8")
    listed = invoke("rules", "--rules", site, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert current() is builtin()
    assert "recording" not in current().services("uccx")
