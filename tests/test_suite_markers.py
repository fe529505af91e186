"""The suite keeps itself: what a test needs is said by a marker (pyproject.toml), not by a
list kept by hand, and the product carries no hook for the tests.

A module that uses the Tomcat, Chromium or sshd helpers (directly or through another
module of tests/), or a test that starts Chromium or a linter by name, carries the marker,
so that ``-m "not (tomcat or browser or ssh)"`` really leaves them out.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import tomllib
from hypothesis import given
from hypothesis import strategies as st

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
#: helper module (tests/ or the product) -> the marker a module that imports it carries
HELPERS = {"tomcat": "tomcat", "cdp": "browser", "browsing": "browser",
           "auditor.render.pdf": "browser", "sshd": "ssh"}
#: a program a test starts by name -> the marker that test (or its module) carries
PROGRAMS = {"chromium": "browser", "ruff": "lint", "mypy": "lint", "vulture": "lint",
            "lint-imports": "lint"}


def imported(tree: ast.AST) -> set[str]:
    """The modules a module imports at its top level."""
    names: set[str] = set()
    for node in getattr(tree, "body", []):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def marks_of(expression: ast.expr | None) -> set[str]:
    """The names X of every ``pytest.mark.X`` in an expression (a list, a call, a name)."""
    if expression is None:
        return set()
    return {node.attr for node in ast.walk(expression)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
            and node.value.attr == "mark"}


def module_marks(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            return marks_of(node.value)
    return set()


def started(function: ast.AST, functions: dict[str, ast.AST]) -> set[str]:
    """The programs of :data:`PROGRAMS` a function names, itself or through the functions
    of its module it calls (however deep)."""
    programs: set[str] = set()
    seen, todo = set(), [function]
    while todo:
        for node in ast.walk(todo.pop()):
            if isinstance(node, ast.Constant) and node.value in PROGRAMS:
                programs.add(node.value)
            elif isinstance(node, ast.Name) and node.id in functions and node.id not in seen:
                seen.add(node.id)
                todo.append(functions[node.id])
    return programs


def needed(sources: dict[str, str]) -> dict[str, list[str]]:
    """Each test module's missing markers: ``{module: ["marker: why", ...]}`` for modules
    named ``test_*`` among ``sources`` (module name -> source text)."""
    trees = {name: ast.parse(text) for name, text in sources.items()}
    direct = {name: imported(tree) for name, tree in trees.items()}
    missing: dict[str, list[str]] = {}
    for name, tree in trees.items():
        if not name.startswith("test_"):
            continue
        reached, todo = set(), [name]
        while todo:  # through the other modules of tests/, however deep
            for module in direct.get(todo.pop(), ()):
                if module not in reached:
                    reached.add(module)
                    todo.append(module)
        marks = module_marks(tree)
        wants = [f"{HELPERS[m]}: imports {m}" for m in sorted(reached & set(HELPERS))
                 if HELPERS[m] not in marks]
        functions = {node.name: node for node in tree.body
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for node in functions.values():
            if not node.name.startswith("test_"):
                continue
            own = marks | set().union(*(marks_of(d) for d in node.decorator_list))
            for program in sorted(started(node, functions)):
                if PROGRAMS[program] not in own:
                    wants.append(f"{PROGRAMS[program]}: {node.name} starts {program}")
        if wants:
            missing[name] = sorted(set(wants))
    return missing


def suite_sources() -> dict[str, str]:
    return {path.stem: path.read_text(encoding="utf-8") for path in TESTS.glob("*.py")}


def test_every_module_that_needs_a_server_or_a_tool_carries_its_marker() -> None:
    assert needed(suite_sources()) == {}


def test_the_markers_are_registered_and_strict() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"][
        "ini_options"]
    assert "--strict-markers" in options["addopts"].split()
    registered = {line.split(":")[0] for line in options["markers"]}
    assert {*HELPERS.values(), *PROGRAMS.values(), "slow"} <= registered


@given(helper=st.sampled_from(sorted(HELPERS)), through=st.integers(0, 3),
       marked=st.booleans())
def test_a_module_that_uses_a_helper_without_its_marker_is_found(helper: str, through: int,
                                                                   marked: bool) -> None:
    """However many modules of tests/ stand between a test module and the helper, the
    missing marker is found, and the marker silences it."""
    chain = [f"step{i}" for i in range(through)]
    sources = {step: f"import {nxt}\n"
               for step, nxt in zip(chain, [*chain[1:], helper][:len(chain)], strict=True)}
    sources[helper] = "X = 1\n"
    first = chain[0] if chain else helper
    mark = f"pytestmark = pytest.mark.{HELPERS[helper]}\n" if marked else ""
    sources["test_new"] = f"import pytest\nimport {first}\n{mark}\ndef test_x():\n    pass\n"
    found = needed(sources)
    assert ("test_new" in found) is not marked, found


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_a_test_that_starts_a_program_without_its_marker_is_found(program: str) -> None:
    source = f"import subprocess\n\ndef test_x():\n    subprocess.run(['{program}'])\n"
    assert needed({"test_new": source}) == {
        "test_new": [f"{PROGRAMS[program]}: test_x starts {program}"]}
    marked = source.replace("def test_x", f"@pytest.mark.{PROGRAMS[program]}\ndef test_x")
    assert needed({"test_new": marked}) == {}
    helper = source.replace("def test_x():\n", "def run():\n") + "\n\ndef test_y():\n    run()\n"
    assert needed({"test_new": helper}) == {
        "test_new": [f"{PROGRAMS[program]}: test_y starts {program}"]}


def test_the_product_reads_no_variable_meant_for_the_tests() -> None:
    """No test hook lives in the product: no environment variable, constant or option of
    the package is named for the tests (the tests patch from outside, tests/patched_cli.py)."""
    hook = re.compile(r"^[A-Z0-9_]*TEST[A-Z0-9_]*$|^--?test\b|_TEST_")
    found = []
    for path in sorted((ROOT / "auditor").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and hook.search(node.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
            elif isinstance(node, ast.Name) and hook.search(node.id):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.id}")
    assert found == []
