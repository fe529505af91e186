"""The inventory shape of issue 2, and clear errors for bad inventories."""

from __future__ import annotations

import pytest

from auditor.collect.inventory import load_inventory
from auditor.common.errors import InputError

EXAMPLE = """\
cluster: east
version: "11.5(1)"            # what the nodes run now
nodes:
  - host: uccx1.example.com   # FQDN: used for SNI and name checks
    address: 10.1.1.10        # optional: where to connect; default: resolve host
    role: uccx-publisher      # uccx-publisher | uccx-subscriber | socialminer
    ports: {finesse: 8445, live_data: 12015, notification: 7443}  # optional overrides
    declared: {cop_installed: false}   # optional facts the network cannot show
  - host: sm1.example.com
    role: socialminer
    ports: {web: 443, notification: 7443}
"""


def _load(tmp_path, text: str):
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return load_inventory(path)


def test_the_documented_example_loads(tmp_path) -> None:
    inventory = _load(tmp_path, EXAMPLE)
    assert inventory.cluster == "east" and inventory.version == "11.5(1)"
    pub, sm = inventory.nodes
    assert (pub.host, pub.address, pub.role) == ("uccx1.example.com", "10.1.1.10",
                                                  "uccx-publisher")
    assert pub.declared == {"cop_installed": False}
    assert sm.address is None


def test_default_ports_per_role_and_all_ports(tmp_path) -> None:
    inventory = _load(tmp_path, 'cluster: c\nversion: "11.5(1)"\nnodes:\n'
                      "  - {host: a.example, role: uccx-subscriber}\n"
                      "  - {host: b.example, role: socialminer}\n")
    uccx, sm = inventory.nodes
    # CUIC and UCCX web services are Tomcat instances agents meet: probed by default
    assert uccx.endpoints() == {"notification": 7443, "finesse": 8445, "live_data": 12015,
                                "cuic": 8444, "platform": 443}
    assert uccx.endpoints(all_ports=True) == {"notification": 7443, "os_admin": 8443,
                                              "cuic": 8444, "finesse": 8445,
                                              "live_data": 12015, "platform": 443}
    assert sm.endpoints() == {"web": 443, "notification": 7443}
    assert sm.endpoints(all_ports=True) == sm.endpoints()


def test_port_override_merges_with_the_defaults(tmp_path) -> None:
    inventory = _load(tmp_path, 'cluster: c\nversion: "11.5(1)"\nnodes:\n'
                      "  - {host: a.example, role: uccx-publisher, ports: {live_data: 1}}\n")
    assert inventory.nodes[0].endpoints()["live_data"] == 1
    assert inventory.nodes[0].endpoints()["finesse"] == 8445


def test_an_inventory_may_move_cuic_and_platform_and_an_old_one_gets_them(tmp_path) -> None:
    """The port keys cuic and platform are accepted; an inventory written before they were
    probed by default (no such key) gets their default ports."""
    moved = _load(tmp_path, 'cluster: c\nversion: "11.5(1)"\nnodes:\n'
                  "  - {host: a.example, role: uccx-publisher, "
                  "ports: {cuic: 9444, platform: 9443, finesse: 8445}}\n")
    assert moved.nodes[0].endpoints()["cuic"] == 9444
    assert moved.nodes[0].endpoints()["platform"] == 9443
    old = _load(tmp_path, 'cluster: c\nversion: "11.5(1)"\nnodes:\n'
                "  - {host: a.example, role: uccx-publisher, ports: {finesse: 8445}}\n")
    assert old.nodes[0].endpoints() == {"notification": 7443, "finesse": 8445,
                                        "live_data": 12015, "cuic": 8444, "platform": 443}


BAD = [
    ("role", 'cluster: c\nversion: "11.5(1)"\nnodes:\n  - host: a.example\n    role: pub\n',
     ":5: nodes[0].role: 'pub' is not allowed (expected one of: uccx-publisher, "
     "uccx-subscriber, socialminer)"),
    ("unquoted version", "cluster: c\nversion: 11.5\nnodes:\n"
     "  - {host: a.example, role: socialminer}\n",
     ":2: version: 11.5 is a number; write it in quotes"),
    ("missing role", 'cluster: c\nversion: "11.5"\nnodes:\n  - host: a.example\n',
     ":4: nodes[0].role: is required but missing"),
    ("unknown field", 'cluster: c\nversion: "11.5"\nnodes:\n  - host: a.example\n'
     "    role: socialminer\n    colour: red\n",
     ":6: nodes[0].colour: unknown field (expected one of: address, cli, declared, host, "
     "pem_dir, ports, role)"),
    ("a password in the cli block", 'cluster: c\nversion: "11.5"\nnodes:\n  - host: a.example\n'
     "    role: socialminer\n    cli: {user: admin, password: secret}\n",
     ":6: nodes[0].cli.password: unknown field (expected one of: key_file, port, user)"),
    ("cli without a user", 'cluster: c\nversion: "11.5"\nnodes:\n  - host: a.example\n'
     "    role: socialminer\n    cli: {port: 22}\n",
     ":6: nodes[0].cli.user: is required but missing"),
    ("a cli user that is no user name", 'cluster: c\nversion: "11.5"\nnodes:\n'
     "  - host: a.example\n    role: socialminer\n    cli: {user: 'admin; show'}\n",
     ":6: nodes[0].cli.user: 'admin; show' has the wrong form"),
    ("port of another role", 'cluster: c\nversion: "11.5"\nnodes:\n  - host: a.example\n'
     "    role: socialminer\n    ports: {finesse: 8445}\n",
     ":6: nodes[0].ports.finesse: port 'finesse' does not exist on a socialminer "
     "(expected one of: web, notification)"),
    ("port out of range", 'cluster: c\nversion: "11.5"\nnodes:\n  - host: a.example\n'
     "    role: socialminer\n    ports: {web: 70000}\n",
     ":6: nodes[0].ports.web: 70000 is out of range (expected maximum 65535)"),
    ("duplicate host", 'cluster: c\nversion: "11.5"\nnodes:\n'
     "  - {host: a.example, role: socialminer}\n  - {host: A.example, role: uccx-publisher}\n",
     ":5: nodes[1].host: 'a.example' is listed twice"),
    ("two publishers", 'cluster: c\nversion: "11.5"\nnodes:\n'
     "  - {host: a.example, role: uccx-publisher}\n  - {host: b.example, role: uccx-publisher}\n",
     ":5: nodes[1].role: a second uccx-publisher"),
    ("bad declared state", 'cluster: c\nversion: "11.5"\nnodes:\n  - host: a.example\n'
     "    role: socialminer\n    declared: {tomcat_ecdsa: signed}\n",
     ":6: nodes[0].declared.tomcat_ecdsa: 'signed' is not allowed"),
    ("no nodes", 'cluster: c\nversion: "11.5"\nnodes: []\n', ":3: nodes: too short"),
    ("broken YAML", 'cluster: c\nversion: "11.5"\nnodes:\n  - host: [a\n',
     ": invalid YAML"),
    ("duplicate key", 'cluster: c\ncluster: d\nversion: "11.5"\nnodes: []\n',
     ":2: invalid YAML"),
    ("not a mapping", "- just\n- a list\n", ": (top level): ['just', 'a list'] has the "
     "wrong type (expected object)"),
]


@pytest.mark.parametrize(("case", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_inventory_names_file_line_field_and_what_is_allowed(tmp_path, case, text,
                                                                 message) -> None:
    with pytest.raises(InputError) as caught:
        _load(tmp_path, text)
    assert str(caught.value).startswith(str(tmp_path / "cluster.yaml"))
    assert message in str(caught.value)


def test_a_node_opts_into_the_vos_cli_and_the_inventory_writes_it_back(tmp_path) -> None:
    from auditor.collect.inventory import inventory_to_yaml
    from auditor.model.cluster import CliAccess

    inventory = _load(tmp_path, 'cluster: c\nversion: "11.5(1)"\nnodes:\n'
                      "  - {host: a.example, role: socialminer, cli: {user: admin}}\n"
                      "  - host: b.example\n    role: uccx-publisher\n"
                      "    cli: {user: ccxadmin, port: 2222, key_file: keys/id}\n")
    assert inventory.nodes[0].cli == CliAccess("admin", 22, None)
    assert inventory.nodes[1].cli == CliAccess("ccxadmin", 2222, "keys/id")
    again = _load(tmp_path, inventory_to_yaml(inventory))
    assert again.nodes == inventory.nodes


def test_missing_inventory_file(tmp_path) -> None:
    with pytest.raises(InputError, match=r"nope\.yaml: file not found"):
        load_inventory(tmp_path / "nope.yaml")


def test_binary_inventory_file(tmp_path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="not UTF-8"):
        load_inventory(path)


def test_a_bare_tagged_scalar_is_an_input_error_not_a_traceback(tmp_path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text("!0")  # found by the property test
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    assert caught.value.line == 1 and "'!0'" in caught.value.message  # a tag never built


# -- CUCM servers, listed apart from the cluster's nodes (issue 22 item 4) ----------------

_CLUSTER = 'cluster: c\nversion: "11.5(1)"\nnodes:\n  - {host: a.example, role: uccx-publisher}\n'

BAD_CUCM = [
    ("cucm port out of range", _CLUSTER + "cucm:\n  - {host: cm.example, port: 0}\n",
     ":6: cucm[0].port: 0 is out of range"),
    ("cucm unknown field", _CLUSTER + "cucm:\n  - host: cm.example\n    role: cucm\n",
     ":7: cucm[0].role: unknown field (expected one of: address, host, port)"),
    ("cucm without host", _CLUSTER + "cucm:\n  - {port: 8443}\n",
     ":6: cucm[0].host: is required but missing"),
    ("cucm host that is no name", _CLUSTER + "cucm:\n  - {host: 'cm example'}\n",
     ":6: cucm[0].host: 'cm example' has the wrong form"),
    ("cucm host also a node", _CLUSTER + "cucm:\n  - {host: A.example}\n",
     ":6: cucm[0].host: 'a.example' is listed twice"),
    ("cucm not a list", _CLUSTER + "cucm: cm.example\n",
     ":5: cucm: 'cm.example' has the wrong type (expected array)"),
]


@pytest.mark.parametrize(("case", "text", "message"), BAD_CUCM,
                         ids=[b[0] for b in BAD_CUCM])
def test_a_bad_cucm_entry_is_one_line_naming_file_line_and_field(tmp_path, case, text,
                                                                  message) -> None:
    with pytest.raises(InputError) as caught:
        _load(tmp_path, text)
    assert str(caught.value).startswith(str(tmp_path / "cluster.yaml"))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_cucm_entries_are_probed_on_the_maps_port_unless_given_and_written_back(
        tmp_path) -> None:
    from auditor.collect.inventory import inventory_to_yaml
    from auditor.model.solution import builtin

    inventory = _load(tmp_path, _CLUSTER + "cucm:\n  - {host: cm1.example}\n"
                      "  - {host: cm2.example, address: 127.0.0.5, port: 9443}\n")
    cucm = [n for n in inventory.nodes if builtin().roles[n.role].listed_under]
    default = builtin().default_ports(builtin().roles["cucm"].family)
    assert [(n.host, n.endpoints()) for n in cucm] == [
        ("cm1.example", default),
        ("cm2.example", {next(iter(default)): 9443})]
    assert inventory.nodes[0].role == "uccx-publisher"
    (tmp_path / "again.yaml").write_text(inventory_to_yaml(inventory))
    again = load_inventory(tmp_path / "again.yaml")
    assert [(n.host, n.role, n.address, n.endpoints()) for n in again.nodes] == [
        (n.host, n.role, n.address, n.endpoints()) for n in inventory.nodes]
