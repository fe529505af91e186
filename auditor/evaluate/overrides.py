"""Site policy: ``overrides.yaml`` in a site rule folder (``--rules DIR``) re-grades or
disables rules, each with a reason.

What an override may do is bounded by what the verdict promises (rules/README.md, "Site
policy"):

- ``severity: X`` gives the rule's findings severity X, and the verdict counts them so.
  The outcomes the rule gives gadgets stay as the rule writes them: a policy changes how
  much a finding weighs, never what agents meet. A rule that gives a gadget an outcome
  worse than ``works`` (a prompt or a failure) cannot become a ``notice``: the verdict
  would say GO while agents meet it.
- ``disabled: true`` keeps the rule from being evaluated. Every subject it would have
  judged is ``not_seen``, so a gadget it has an effect on is ``unknown`` (the engine's
  rule for a rule that could not look), never ``works``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.common.errors import InputError
from auditor.common.inputs import input_text, read_input
from auditor.common.validation import load_yaml, load_yaml_validated
from auditor.model.audit import Override, SitePolicy

if TYPE_CHECKING:  # ruleset imports this module when it loads a site folder
    from auditor.evaluate.ruleset import Rule

#: The site policy file of a site rule folder (never read as a rule).
OVERRIDES_FILE = "overrides.yaml"
#: Outcomes a notice may not stand for: the agent meets a prompt or a failure.
_NOT_A_NOTICE = ("prompt_accept_works", "prompt_accept_fails", "broken")


def policy_file(folder: Path) -> Path | None:
    """The folder's ``overrides.yaml`` (or ``.yml``), if it has one."""
    for name in (OVERRIDES_FILE, "overrides.yml"):
        if (folder / name).exists():
            return folder / name
    return None


def load_policy(path: Path, rules: Mapping[str, Rule], taken: Mapping[str, str]) -> SitePolicy:
    """Read and check one ``overrides.yaml`` against the rules loaded (``rules``: ID to rule;
    ``taken``: rule IDs another policy file already overrides, to that file). Errors name
    the file, the line and the field."""
    name = str(path)
    content = read_input(path, "yaml")  # read once: what is checked is what is hashed
    text = input_text(content, path)
    data, locate = load_yaml_validated(path, "overrides", parse=lambda p: load_yaml(p, text))
    seen: dict[str, int] = {}
    overrides = []
    for index, raw in enumerate(data["overrides"]):
        def error(field: str, message: str, expected: str, index: int = index) -> InputError:
            return InputError(message, path=name, line=locate(["overrides", index, field])
                              or locate(["overrides", index]),
                              field=f"overrides[{index}].{field}", expected=expected)

        rule = rules.get(raw["rule"])
        if rule is None:
            raise error("rule", f"no rule {raw['rule']!r}",
                        "a rule ID listed by `uccx-audit rules` (built-in or the site's)")
        if raw["rule"] in seen:
            raise error("rule", f"{raw['rule']} is already overridden at line "
                        f"{seen[raw['rule']]}", "one override per rule")
        if raw["rule"] in taken:
            raise error("rule", f"{raw['rule']} is already overridden in {taken[raw['rule']]}",
                        "one override per rule across the site rule folders")
        has_severity, disabled = "severity" in raw, bool(raw.get("disabled"))
        if has_severity == disabled:
            raise error("severity" if has_severity else "rule",
                        "both severity and disabled" if has_severity
                        else "neither severity nor disabled",
                        "exactly one of severity: error|warning|notice and disabled: true")
        effects = rule.effects
        if raw.get("severity") == "notice":
            bad = sorted(g for g, o in effects.items() if o in _NOT_A_NOTICE)
            if bad:
                raise error("severity", f"{raw['rule']} makes {', '.join(bad)} "
                            f"{effects[bad[0]]}; as a notice the verdict could be GO while "
                            "agents meet that", "warning or error (or disabled: true, which "
                            "leaves those gadgets unknown)")
        line = locate(["overrides", index])
        seen[raw["rule"]] = line or index
        overrides.append(Override(raw["rule"], " ".join(raw["reason"].split()),
                                  rule.severity,
                                  raw.get("severity"), disabled, line))
    digest = hashlib.sha256(content).hexdigest()
    return SitePolicy(name, digest, tuple(overrides))


def apply_policy(rules: dict[str, Rule], policies: Iterable[SitePolicy]) -> None:
    """Re-grade the rules the policies re-grade (in place); disabled rules stay, for the
    engine to mark what they would have judged as not seen."""
    for policy in policies:
        for override in policy.overrides:
            if override.severity is not None:
                rules[override.rule] = replace(rules[override.rule],
                                               severity=override.severity)


def disabled_rules(policies: Iterable[SitePolicy]) -> frozenset[str]:
    """The IDs of the rules a site policy disables."""
    return frozenset(o.rule for p in policies for o in p.overrides if o.disabled)
