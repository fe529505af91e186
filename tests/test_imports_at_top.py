"""Imports sit at the top of their module. An import inside a function is kept only where
it buys start-up time: its module is not loaded when the command line starts (so a
command that does not need it never pays for it; importing all of them at the top made
``--version`` ~3x and ``report --format md`` ~1.8x slower on the benchmark machine), or
it is a module of one platform only (fcntl, msvcrt)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lint

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_ONLY = {"fcntl", "msvcrt", "termios", "tty", "pwd", "grp", "resource", "winreg"}


def _loaded_at_start() -> set[str]:
    done = subprocess.run([sys.executable, "-c", "import sys, auditor.cli.app\n"
                           "print('\\n'.join(sys.modules))"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT),
                                                       "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def _package(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__") if path.name == "__init__.py" else \
        name.rpartition(".")[0]


def _function_imports(source: str, package: str) -> list[tuple[int, str]]:
    """(line, absolute module) of each import made inside a function."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, inside: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import) and inside:
                found.extend((child.lineno, alias.name) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and inside:
                base = package.split(".")[:len(package.split(".")) - child.level + 1] \
                    if child.level else []
                found.append((child.lineno, ".".join([*base, child.module or ""]).strip(".")))
            else:
                visit(child, inside or isinstance(child, (ast.FunctionDef,
                                                          ast.AsyncFunctionDef)))

    visit(ast.parse(source), False)
    return found


def test_no_import_inside_a_function_of_a_module_every_command_loads_anyway() -> None:
    loaded = _loaded_at_start()
    assert "auditor.cli.app" in loaded and "OpenSSL" not in loaded
    needless = [f"{path.relative_to(ROOT)}:{line}: {module}"
                for path in sorted((ROOT / "auditor").rglob("*.py"))
                for line, module in _function_imports(path.read_text(encoding="utf-8"),
                                                      _package(path))
                if module in loaded and module.split(".")[0] not in PLATFORM_ONLY]
    assert not needless, "move to the top of the module:\n" + "\n".join(needless)


def test_the_check_sees_every_import_inside_a_function_and_none_at_the_top() -> None:
    source = ("import os\nfrom auditor.common import errors\n"
              "def f():\n    import sys\n    if x:\n        from .. import model\n"
              "class C:\n    def g(self):\n        from .textsafe import terminal\n")
    assert _function_imports(source, "auditor.common") == [
        (4, "sys"), (6, "auditor"), (9, "auditor.common.textsafe")]
    assert _package(ROOT / "auditor" / "common" / "validation.py") == "auditor.common"
    assert _package(ROOT / "auditor" / "common" / "__init__.py") == "auditor.common"
