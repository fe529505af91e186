"""Validation lists every problem of a file, one line each with its line and field, in
line order; at most LISTED_PROBLEMS of them, then how many more."""

from __future__ import annotations

import re

from cli_runner import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.common.validation import LISTED_PROBLEMS

#: Node fields that the schema refuses, each with what makes it wrong.
BAD_FIELDS = {"role": "bogus", "extra": "1", "host": "7", "ports": "notalist"}


def inventory(bad_nodes: list[list[str]]) -> tuple[str, dict[int, str]]:
    """An inventory whose node ``i`` carries the wrong fields ``bad_nodes[i]``; and the
    line of each wrong field, by line number -> field path."""
    lines = ['cluster: "c"', 'version: "11.5(1)"', "nodes:"]
    wrong: dict[int, str] = {}
    for index, fields in enumerate(bad_nodes):
        lines.append(f"  - host: node{index}.example.com" if "host" not in fields
                     else f"  - host: {BAD_FIELDS['host']}")
        if "host" in fields:
            wrong[len(lines)] = f"nodes[{index}].host"
        lines.append("    role: uccx-publisher" if "role" not in fields
                     else f"    role: {BAD_FIELDS['role']}")
        if "role" in fields:
            wrong[len(lines)] = f"nodes[{index}].role"
        for name in ("extra", "ports"):
            if name in fields:
                lines.append(f"    {name}: {BAD_FIELDS[name]}")
                wrong[len(lines)] = f"nodes[{index}].{name}"
    return "\n".join(lines) + "\n", wrong


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad_nodes=st.lists(st.lists(st.sampled_from(sorted(BAD_FIELDS)), unique=True), min_size=1,
                max_size=12).filter(lambda nodes: any(nodes)))
def test_every_problem_is_listed_with_its_line_and_field(bad_nodes, tmp_path) -> None:
    text, wrong = inventory(bad_nodes)
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    done = invoke("audit", "--inventory", path, "--phase", "pre", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.removeprefix("error: ").splitlines()
    listed = [line for line in lines if not line.startswith("and ")]
    found = {}
    for line in listed:
        match = re.match(rf"{re.escape(str(path))}:(\d+): (\S+): ", line)
        assert match, line
        found[int(match.group(1))] = match.group(2)
    # the publisher role given more than once is the inventory's own check, after these
    expected = dict(sorted(wrong.items())[:LISTED_PROBLEMS])
    assert found == expected
    assert list(found) == sorted(found)  # in line order
    more = len(wrong) - LISTED_PROBLEMS
    if more > 0:
        assert lines[-1] == f"and {more} more problem{'s' if more > 1 else ''} in {path}"
    else:
        assert len(lines) == len(wrong)
