"""Host names in the inventory and on the quick-look command line: RFC 1035 limits, no
trailing newline, no empty label; an IPv6 address in brackets is accepted unbracketed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from auditor.collect.inventory import checked_host, load_inventory
from auditor.common.errors import InputError

BAD = ["a.example\n", "a.example\n\n", " a.example", ".", "...", "a..b.example",
       ".a.example", "a" * 64 + ".example", ".".join(["a" * 63] * 4) + ".b", "-a.example",
       "a_b-.example", "[127.0.0.1]", "[not-an-address]", "", "a.example\x00"]


@pytest.mark.parametrize("host", BAD)
def test_bad_hosts_are_refused_with_the_field_named(tmp_path, host) -> None:
    with pytest.raises(InputError) as caught:
        checked_host(host, field="nodes[0].host")
    assert caught.value.field == "nodes[0].host"
    inventory = tmp_path / "cluster.yaml"
    quoted = host.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace(
        "\x00", "\\0")
    inventory.write_text(f'cluster: c\nversion: "11.5(1)"\nnodes:\n'
                         f'  - host: "{quoted}"\n    role: uccx-publisher\n')
    with pytest.raises(InputError) as caught:
        load_inventory(inventory)
    assert "nodes[0].host" in str(caught.value) or "nodes.0.host" in str(caught.value) \
        or ":4:" in str(caught.value), str(caught.value)


@pytest.mark.parametrize("host, expected", [
    ("UCCX1.Example.COM.", "uccx1.example.com"), ("[::1]", "::1"), ("::1", "::1"),
    ("127.0.0.1", "127.0.0.1"), (".".join(["a" * 63] * 3) + "." + "b" * 61,
                                 ".".join(["a" * 63] * 3) + "." + "b" * 61)])
def test_good_hosts(host, expected) -> None:
    assert checked_host(host) == expected


def test_bracketed_ipv6_in_an_inventory_is_probed_unbracketed(tmp_path) -> None:
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text('cluster: c\nversion: "11.5(1)"\nnodes:\n'
                         '  - host: "[::1]"\n    role: uccx-publisher\n')
    assert load_inventory(inventory).nodes[0].host == "::1"


@pytest.mark.parametrize("target", ["a.example\n", "...", "a" * 300, "[127.0.0.1]:1",
                                    "x:99999", "[::1]x"])
def test_quick_look_refuses_bad_targets_before_probing(target) -> None:
    done = subprocess.run([sys.executable, "-m", "auditor", "probe", target],
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "probed" not in done.stderr
    assert len(done.stderr) < 400


def test_quick_look_takes_a_bracketed_ipv6_address_and_port() -> None:
    from auditor.cli.probe import _quick_inventory

    inventory = _quick_inventory(["[::1]:8445"], "uccx-publisher", "11.5(1)")
    assert [(n.host, n.ports) for n in inventory.nodes] == [("::1", {"finesse": 8445})]
