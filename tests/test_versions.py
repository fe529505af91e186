"""Versions as VOS prints them (``show version active``) beside the release names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.collect.inventory import load_inventory
from auditor.common.errors import InputError
from auditor.evaluate.engine import evaluate
from auditor.evaluate.projection import make_settings
from auditor.evaluate.ruleset import load_ruleset
from auditor.model.facts import load_facts
from auditor.model.versions import Version, uses_ecdsa

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "facts"


@pytest.mark.parametrize("text", ["11.5.1.10000-61", "11.5.1.10000-61 ES03",
                                  "11.5.1.10000-61-ES03", "11.5.1.10000-61.ES03"])
def test_vos_versions_and_es_builds_parse_as_their_release(text: str) -> None:
    version = Version(text)
    assert version.release == (11, 5) and uses_ecdsa(version)
    assert Version("11.5(1)") <= version < Version("11.6")
    assert Version("11.5") < version


def test_es_builds_order_after_their_base_build() -> None:
    assert Version("11.5.1.10000-61") < Version("11.5.1.10000-61 ES03")
    assert Version("11.5.1.10000-61 ES03") < Version("11.5.1.10000-61 ES04")
    assert Version("11.6.1.10000-37") >= Version("11.6(1)")


@pytest.mark.parametrize("text", ["11.5.1", "11.5.1.10000", "11.5.1.10000-61 SU1", "x"])
def test_other_forms_are_refused_with_the_forms_expected(text: str) -> None:
    with pytest.raises(InputError) as caught:
        Version(text)
    assert "11.5.1.10000-61" in str(caught.value.expected)


def test_an_inventory_may_give_the_version_as_vos_prints_it(tmp_path: Path) -> None:
    path = tmp_path / "east.yaml"
    path.write_text('cluster: east\nversion: "11.5.1.10000-61 ES03"\nnodes:\n'
                    '  - {host: uccx1.example.com, role: uccx-publisher}\n')
    assert load_inventory(path).version == "11.5.1.10000-61 ES03"


def test_a_multi_server_san_certificate_on_11_6_1_is_a_warning_not_an_error() -> None:
    rules = load_ruleset([])
    for name, expected in (("multi-server-san-11-6-1", {"warning"}),
                           ("multi-server-san-11-6-2", set()),
                           ("multi-server-san", {"error"})):
        facts = load_facts(FIXTURES / f"{name}.json")
        settings = make_settings(facts.version, facts.observed_at, phase="post",
                                 target_version=None, change_date=None,
                                 expiry_window_days=30)
        found = {f.severity for f in evaluate(rules, facts, settings).findings
                 if f.rule_id.startswith("multi-server-san")}
        assert found == expected, name
    facts = json.loads((FIXTURES / "multi-server-san-11-6-1.json").read_text())
    assert facts["version"] == "11.6(1)"
