"""No dependency is capped unless a test shows what the cap prevents: an upper bound
(``<``, ``<=``, ``~=``, ``==``, ``!=``) in pyproject.toml is inherited by every user's
environment, so each one must be listed here with the test that fails without it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent

#: name (as PEP 503 normalises it) -> "tests/test_x.py::test_name" that shows the breakage
#: the bound prevents. Empty: nothing is capped.
BOUNDED: dict[str, str] = {}

_CAPS = ("<", "<=", "~=", "==", "===", "!=")


def _requirements() -> list[tuple[str, Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = [("dependencies", Requirement(text)) for text in project["dependencies"]]
    for extra, texts in project.get("optional-dependencies", {}).items():
        found += [(f"optional-dependencies.{extra}", Requirement(text)) for text in texts]
    return found


def _name(requirement: Requirement) -> str:
    return re.sub(r"[-_.]+", "-", requirement.name).lower()


def _test_exists(where: str) -> bool:
    path, _, function = where.partition("::")
    file = ROOT / path
    if not file.is_file() or not function:
        return False
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.FunctionDef) and node.name == function
               for node in ast.walk(tree))


@pytest.mark.parametrize(("table", "requirement"), _requirements(),
                         ids=lambda item: str(item))
def test_no_dependency_is_capped_without_a_test_that_shows_why(
        table: str, requirement: Requirement) -> None:
    caps = [spec for spec in requirement.specifier if spec.operator in _CAPS]
    if not caps:
        return
    where = BOUNDED.get(_name(requirement))
    assert where is not None, (
        f"pyproject.toml [project] {table}: {requirement} has an upper bound "
        f"({', '.join(map(str, caps))}); remove it, or name in BOUNDED the test that fails "
        "without it")
    assert _test_exists(where), f"{requirement}: {where} names no test"


def test_the_runtime_dependencies_are_one_library_per_job() -> None:
    names = {_name(r) for table, r in _requirements() if table == "dependencies"}
    assert not names & {"ruamel-yaml", "jsonschema"}, names
    assert {"pyyaml", "jsonschema-rs"} <= names


def test_a_listed_bound_must_name_a_test_that_exists() -> None:
    assert _test_exists("tests/test_dependency_bounds.py::test_a_listed_bound_must_name_a_test"
                        "_that_exists")
    assert not _test_exists("tests/test_dependency_bounds.py::no_such_test")
    assert not _test_exists("tests/no_such_file.py::test_x")
