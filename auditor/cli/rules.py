"""``uccx-audit rules``: the rule catalogue."""

from __future__ import annotations

from typing import Annotated

import typer

from auditor.cli.options import CatalogueFormat, Commands, ConfigFile, SiteRules, say, use_site_map

commands = Commands()


@commands.command("rules", epilog="\b\nExamples:\n  uccx-audit rules\n"
             "  uccx-audit rules --format md > rules/CATALOGUE.md\n"
             "  uccx-audit rules --rules site-rules/ --format json")
def rules_command(
    fmt: Annotated[CatalogueFormat, typer.Option("--format", "-f")] = CatalogueFormat.table,
    rules: SiteRules = None,
    config: ConfigFile = None,
) -> None:
    """List the rule catalogue, generated from the rule and playbook files themselves."""
    from auditor.evaluate.ruleset import load_ruleset
    from auditor.render.catalogue import rules_json, rules_markdown, rules_table

    use_site_map(rules)
    ruleset = load_ruleset(rules or [])
    if fmt is CatalogueFormat.json:
        typer.echo(rules_json(ruleset), nl=False)
    elif fmt is CatalogueFormat.md:
        typer.echo(rules_markdown(ruleset), nl=False)
    else:
        typer.echo(rules_table(ruleset))
        say(f"{len(ruleset.rules)} rules, {len(ruleset.playbooks)} playbooks; "
             f"rule set sha256 {ruleset.sha256}")
