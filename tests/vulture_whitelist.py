"""Names vulture cannot see in use (tests/test_hygiene.py): dataclass fields that the JSON
files, schemas and Jinja2 templates read, typer commands registered by decorator,
callbacks paramiko calls, and vocabularies kept for files older versions wrote."""

# ruff: noqa
_root  # unused function (auditor/cli/app.py:56)
evaluate_command  # unused function (auditor/cli/evaluate.py:17)
subscriber  # unused variable (auditor/cli/options.py:22)
rules_command  # unused function (auditor/cli/rules.py:15)
test_command  # unused function (auditor/cli/rules.py: `rules test`, registered by typer)
STRICT_ONLY  # unused variable (auditor/collect/trust.py:41)
ERROR_KINDS  # unused variable (auditor/collect/vos_cli.py:56)
_.missing_host_key  # unused method (auditor/collect/vos_cli.py:178)
_.handleError  # unused method (auditor/collect/vos_cli.py): logging calls it when a record fails
_.authenticate  # unused method (auditor/collect/vos_cli.py): paramiko's SSHClient.connect calls it
_.handleError  # unused method (auditor/common/libraries.py): logging calls it
faq_row  # unused variable (auditor/lab/scenarios.py:42)
schema_version  # unused variable (auditor/model/audit.py:120)
tool_version  # unused variable (auditor/model/audit.py:121)
parse_warnings  # unused variable (auditor/model/certificate.py:37)
installed_from  # unused variable (auditor/model/facts.py:123)
ssh_log  # unused variable (auditor/model/facts.py): written to facts.json as the node's evidence
schema_version  # unused variable (auditor/model/facts.py:205)
tool_version  # unused variable (auditor/model/facts.py:206)
days_left  # unused variable (auditor/model/portfolio.py:73)
schema_version  # unused variable (auditor/model/portfolio.py:80)
tool_version  # unused variable (auditor/model/portfolio.py:81)
before_leaf  # unused variable (auditor/render/diff.py:31)
before_subject  # unused variable (auditor/render/diff.py:33)
after_subject  # unused variable (auditor/render/diff.py:34)
unchanged  # unused variable (auditor/render/diff.py:62)
inferred  # unused variable (auditor/render/faq.py:22)
for_findings  # unused variable (auditor/model/plan.py)
daemon_threads  # unused variable (scripts/make_rule_fixtures.py:126)
key_exchange_group  # unused variable (tests/cdp.py:38)
pytestmark  # unused variable (tests/test_trust_corpus.py:27)
_.CN  # unused attribute (tests/test_bounded_inputs.py:138): pyOpenSSL sets the subject by assignment
pytest_collection_modifyitems  # unused function (tests/conftest.py:37): a pytest hook, called by name
pytest_xdist_auto_num_workers  # unused function (tests/conftest.py): a pytest-xdist hook, called by name
pytest_configure  # unused function (tests/conftest.py): a pytest hook, called by name
__getattr__  # unused function (auditor/model/cluster.py, auditor/model/presentation.py, auditor/evaluate/gadgets.py, auditor/render/faq.py): module attributes read from the solution map, called by Python on import of the old names
presents_inferred  # unused variable (auditor/model/solution.py): data of the solution map, shown in docs/ARCHITECTURE.md
vos_service  # unused variable (auditor/model/solution.py): data of the solution map (the VOS service behind an endpoint)
restart  # unused variable (auditor/model/solution.py): data of the solution map (a family's restart command)
truster  # unused variable (auditor/model/solution.py): a trust edge of the solution map
trusts  # unused variable (auditor/model/solution.py): a trust edge of the solution map
yaml_implicit_resolvers  # unused variable (auditor/common/yaml12.py): PyYAML reads it
