"""Loading rule and playbook files: every broken file stops the run with one line naming
the file, the line, the field and what is allowed; site rules join the built-in ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.common.errors import InputError
from auditor.evaluate.ruleset import load_playbook, load_rule, load_ruleset

SITE_RULE = """\
id: {id}
title: Site rule used by the loader tests
description: >
  A rule written by the loader tests. It fires on every Live Data endpoint that was
  probed, so that its finding and its effect can be seen.
severity: warning
scope: endpoint
applies_to:
  phases: [pre, post]
  roles: [uccx-publisher, uccx-subscriber]
  services: [live_data]
when:
  all:
    - {{fact: endpoint.probed, equals: true}}
effects:
  live_data: prompt_accept_works
message: >
  {{node.host}} port {{endpoint.port}} is a Live Data endpoint, and this site rule says so.
citations:
  - source: Cisco 210528
remediation: [agents-accept-once]
"""


def write_rule(folder: Path, rule_id: str = "site-live-data-marker", *,
               replace: tuple[str, str] | None = None, text: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = text if text is not None else SITE_RULE.format(id=rule_id)
    if replace is not None:
        assert replace[0] in body, replace[0]
        body = body.replace(*replace)
    path = folder / f"{rule_id}.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def load_error(*folders: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_ruleset(list(folders))
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_the_built_in_rules_and_playbooks_load() -> None:
    rules = load_ruleset()
    assert len(rules.rules) >= 25 and len(rules.playbooks) >= 10
    assert rules.site_rules == ()
    assert len(rules.sha256) == 64


def test_a_site_folder_adds_its_rules_and_changes_the_hash(tmp_path: Path) -> None:
    write_rule(tmp_path / "site")
    rules = load_ruleset([tmp_path / "site"])
    assert rules.site_rules == ("site-live-data-marker",)
    assert rules.rule("site-live-data-marker").severity == "warning"
    assert rules.sha256 != load_ruleset().sha256


def test_a_site_folder_may_bring_its_own_playbooks(tmp_path: Path) -> None:
    site = tmp_path / "site"
    builtin = Path(load_ruleset().playbooks["agents-accept-once"].path)
    (site / "playbooks").mkdir(parents=True)
    (site / "playbooks" / "site-call-the-desk.yaml").write_text(
        builtin.read_text().replace("id: agents-accept-once", "id: site-call-the-desk"))
    write_rule(site, replace=("[agents-accept-once]", "[site-call-the-desk]"))
    assert "site-call-the-desk" in load_ruleset([site]).playbooks


def test_bad_yaml_names_file_line_and_field(tmp_path: Path) -> None:
    path = write_rule(tmp_path, replace=("title: Site rule", "title: [Site rule"))
    message = load_error(tmp_path)
    assert message.startswith(f"{path}:2: title: invalid YAML: ")
    assert "closed quotes and brackets" in message


def test_an_unterminated_quote_names_the_condition_it_is_in(tmp_path: Path) -> None:
    path = write_rule(tmp_path, replace=("equals: true}", 'equals: "true}'))
    line = line_of(path, '"true}')
    assert load_error(tmp_path).startswith(f"{path}:{line}: when.all: invalid YAML: ")


def test_a_duplicate_key_names_the_key(tmp_path: Path) -> None:
    path = write_rule(tmp_path, replace=("severity: warning", "severity: warning\nseverity: error"))
    message = load_error(tmp_path)
    assert message.startswith(f"{path}:{line_of(path, 'severity: error')}: severity: ")
    assert 'duplicate key "severity"' in message


def test_unknown_operator_names_file_line_field_and_the_allowed_operators(tmp_path) -> None:
    path = write_rule(tmp_path, replace=("equals: true}", "equal: true}"))
    message = load_error(tmp_path)
    line = line_of(path, "equal: true")
    assert message.startswith(f"{path}:{line}: when.all[0].equal: unknown operator 'equal'")
    assert "expected one of: equals, not_equals, in, not_in" in message


def test_missing_field_names_the_field(tmp_path: Path) -> None:
    path = write_rule(tmp_path, replace=("citations:\n  - source: Cisco 210528\n", ""))
    message = load_error(tmp_path)
    assert message.startswith(f"{path}:") and "citations: is required but missing" in message


def test_duplicate_id_names_both_files(tmp_path: Path) -> None:
    builtin = Path(load_ruleset().rule("certificate-expired").path)
    copy = tmp_path / "site" / builtin.name
    copy.parent.mkdir()
    copy.write_text(builtin.read_text())
    message = load_error(tmp_path / "site")
    assert message.startswith(f"{copy}:{line_of(copy, 'id: certificate-expired')}: id: ")
    assert "duplicate rule ID 'certificate-expired'" in message and str(builtin) in message


def test_duplicate_id_across_two_site_folders(tmp_path: Path) -> None:
    write_rule(tmp_path / "a")
    second = write_rule(tmp_path / "b")
    message = load_error(tmp_path / "a", tmp_path / "b")
    assert message.startswith(f"{second}:") and "duplicate rule ID" in message


def test_unknown_remediation_names_the_reference_and_the_known_playbooks(tmp_path) -> None:
    path = write_rule(tmp_path, replace=("[agents-accept-once]", "[agents-accept-twice]"))
    message = load_error(tmp_path)
    assert message.startswith(f"{path}:{line_of(path, 'remediation:')}: remediation[0]: ")
    assert "unknown remediation 'agents-accept-twice'" in message
    assert "sign-tomcat-ecdsa-with-ec-ca" in message


def test_id_must_be_the_file_stem(tmp_path: Path) -> None:
    path = write_rule(tmp_path, replace=("id: site-live-data-marker", "id: site-other-name"))
    message = load_error(tmp_path)
    assert f"{path}:1: id: 'site-other-name' differs from the file name" in message


def test_misspelt_fact_names_the_closest_field(tmp_path: Path) -> None:
    path = write_rule(tmp_path, replace=("endpoint.probed", "endpoint.probd"))
    message = load_error(tmp_path)
    assert message.startswith(f"{path}:{line_of(path, 'endpoint.probd')}: when.all[0].fact: ")
    assert "unknown fact 'endpoint.probd'" in message and "endpoint.probed" in message


def test_a_node_rule_cannot_read_endpoint_fields(tmp_path: Path) -> None:
    write_rule(tmp_path, replace=("scope: endpoint", "scope: node"))
    (tmp_path / "site-live-data-marker.yaml").write_text(
        (tmp_path / "site-live-data-marker.yaml").read_text()
        .replace("  services: [live_data]\n", ""))
    assert "unknown fact 'endpoint.probed'" in load_error(tmp_path)


def test_unknown_message_placeholder(tmp_path: Path) -> None:
    write_rule(tmp_path, replace=("{endpoint.port}", "{endpoint.prot}"))
    assert "message: unknown placeholder {endpoint.prot}" in load_error(tmp_path)


def test_operator_value_of_the_wrong_kind(tmp_path: Path) -> None:
    write_rule(tmp_path, replace=("{fact: endpoint.probed, equals: true}",
                                  "{fact: endpoint.port, less_than: ten}"))
    message = load_error(tmp_path)
    assert "when.all[0].less_than: 'ten' does not suit less_than (expected a number)" in message


def test_one_operator_per_test(tmp_path: Path) -> None:
    write_rule(tmp_path, replace=("equals: true}", "equals: true, exists: true}"))
    assert "one operator per test" in load_error(tmp_path)


def test_a_combinator_stands_alone(tmp_path: Path) -> None:
    write_rule(tmp_path, replace=("when:\n  all:", "when:\n  any: []\n  all:"))
    assert "'any' cannot be combined with other keys" in load_error(tmp_path)


def test_an_effect_on_a_gadget_the_roles_do_not_serve(tmp_path: Path) -> None:
    write_rule(tmp_path, replace=("  live_data: prompt_accept_works",
                                  "  chat_email: prompt_accept_works"))
    message = load_error(tmp_path)
    assert "effects.chat_email: chat/email gadget is not served by the roles" in message


def test_only_an_error_rule_may_break_a_gadget(tmp_path: Path) -> None:
    write_rule(tmp_path, replace=("live_data: prompt_accept_works", "live_data: broken"))
    message = load_error(tmp_path)
    assert "severity: 'warning', but the rule makes live_data broken" in message


def test_a_warning_needs_remediation(tmp_path: Path) -> None:
    write_rule(tmp_path, replace=("[agents-accept-once]", "[]"))
    assert "remediation: a rule of severity warning needs remediation" in load_error(tmp_path)


def test_unknown_effect_outcome_lists_the_outcomes(tmp_path: Path) -> None:
    write_rule(tmp_path, replace=("live_data: prompt_accept_works", "live_data: flaky"))
    message = load_error(tmp_path)
    assert "effects.live_data: 'flaky' is not allowed" in message
    assert "prompt_accept_fails" in message


def test_a_version_range_must_be_versions_in_order(tmp_path: Path) -> None:
    write_rule(tmp_path, replace=("  services: [live_data]\n",
                                  "  services: [live_data]\n  versions: {from: \"11.6\", "
                                  "before: \"11.5\"}\n"))
    assert "applies_to.versions.before: 11.5 is not after 11.6" in load_error(tmp_path)
    write_rule(tmp_path, replace=("  services: [live_data]\n",
                                  "  services: [live_data]\n  versions: {from: eleven}\n"))
    assert "applies_to.versions.from: 'eleven' is not a UCCX version" in load_error(tmp_path)


def test_services_only_limit_endpoint_and_certificate_rules(tmp_path: Path) -> None:
    write_rule(tmp_path, replace=("scope: endpoint", "scope: node"))
    assert "applies_to.services: a node rule cannot be limited to services" in load_error(
        tmp_path)


def test_a_playbook_must_end_with_running_the_audit_again(tmp_path: Path) -> None:
    builtin = Path(load_ruleset().playbooks["agents-accept-once"].path)
    path = tmp_path / "agents-accept-once.yaml"
    text = builtin.read_text()
    start = text.index("verify:")
    path.write_text(text[:start] + "verify:\n  on: agent-desktops\n  do: Ask an agent whether "
                    "it works now.\n" + text[text.index("citations:"):])
    with pytest.raises(InputError) as caught:
        load_playbook(path)
    assert f"{path}:" in str(caught.value)
    assert "verify.do: does not say how to run the audit again" in str(caught.value)


def test_a_playbook_step_names_where_it_is_done(tmp_path: Path) -> None:
    builtin = Path(load_ruleset().playbooks["agents-accept-once"].path)
    path = tmp_path / "agents-accept-once.yaml"
    path.write_text(builtin.read_text().replace("on: agent-desktops", "on: somewhere", 1))
    with pytest.raises(InputError) as caught:
        load_playbook(path)
    assert "steps[0].on: 'somewhere' is not allowed" in str(caught.value)


def test_a_missing_or_empty_site_folder_is_an_error(tmp_path: Path) -> None:
    assert "folder not found" in load_error(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    assert "no rule files (*.yaml) in this folder" in load_error(tmp_path / "empty")


def test_a_rule_file_in_a_subfolder_is_an_error_not_skipped(tmp_path: Path) -> None:
    write_rule(tmp_path / "site")
    stray = write_rule(tmp_path / "site" / "network", "site-other-rule")
    message = load_error(tmp_path / "site")
    assert message.startswith(f"{stray}: a rule file in a subfolder would not be loaded")


def test_a_single_rule_file_loads_on_its_own(tmp_path: Path) -> None:
    rule = load_rule(write_rule(tmp_path))
    assert rule.scope == "endpoint" and rule.effects == {"live_data": "prompt_accept_works"}
