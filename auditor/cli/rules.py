"""``uccx-audit rules``: the rule catalogue; ``uccx-audit rules test DIR``: one-file rule
cases run against the rules (a site's own beside the built-ins)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor.cli.options import CatalogueFormat, Commands, ConfigFile, SiteRules, say, use_site_map
from auditor.model.verdicts import EXIT_FINDINGS, EXIT_OK

commands = Commands()
group = typer.Typer(invoke_without_command=True, no_args_is_help=False, add_completion=False,
                    rich_markup_mode=None,
                    context_settings={"help_option_names": ["-h", "--help"]})
commands.group("rules", group)


@group.callback(epilog="\b\nExamples:\n  uccx-audit rules\n"
                "  uccx-audit rules --format md > rules/CATALOGUE.md\n"
                "  uccx-audit rules --rules site-rules/ --format json\n"
                "  uccx-audit rules test site-rules/")
def rules_command(
    ctx: typer.Context,
    fmt: Annotated[CatalogueFormat, typer.Option("--format", "-f")] = CatalogueFormat.table,
    rules: SiteRules = None,
    config: ConfigFile = None,
) -> None:
    """List the rule catalogue, generated from the rule and playbook files themselves
    (`rules test DIR`: run one-file rule cases)."""
    if ctx.invoked_subcommand is not None:
        return
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


@group.command("test", epilog="\b\nExamples:\n  uccx-audit rules test site-rules/\n"
               "  uccx-audit rules test cases/ --rules site-rules/")
def test_command(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="A site rule folder with its "
                                           "cases in cases/ (its rules, playbooks and "
                                           "overrides.yaml are loaded beside the built-in "
                                           "ones), or a folder of cases.")],
    rules: SiteRules = None,
    config: ConfigFile = None,
) -> None:
    """Run one-file rule cases: each YAML file describes a small cluster and the findings
    and gadget outcomes the rules must give it. Exit 0: every case passed; 1: a case
    failed (each failure names the case file and line, expected and got); 2: a case or
    rule file is wrong."""
    from auditor.evaluate.ruleset import load_ruleset
    from auditor.pipeline.rule_cases import is_rule_folder, run_cases, summary

    site = [*(rules or []), *([folder] if folder.is_dir() and is_rule_folder(folder) else [])]
    ruleset = load_ruleset(list(dict.fromkeys(site)))
    results = run_cases(folder, ruleset)
    for result in results:
        for line in result.lines():
            typer.echo(line)
    say(summary(results))
    raise typer.Exit(EXIT_OK if all(r.passed for r in results) else EXIT_FINDINGS)
