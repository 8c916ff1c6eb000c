"""The shape of the code base: dependencies point one way, rooms stay small, libraries do not print.

Layers, top to bottom: ``sangam`` (the command line, wiring index and web together) uses ``index``
(building indexes) and ``web`` (serving them), which both use ``search`` (the shared core and the query
service); ``search`` uses none of them, and ``index`` and ``web`` do not use each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("search", "index", "web")
ALLOWED = {"sangam": {"search", "index", "web"}, "index": {"search"}, "web": {"search"}, "search": set()}
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 450


def _modules(packages=PACKAGES):
    for pkg in packages:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            yield pkg, path, ast.parse(path.read_text("utf-8"), filename=str(path))


def _imported_packages(tree: ast.AST) -> set[str]:
    """Top-level project packages a module imports (at module level or inside functions)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


def test_dependencies_point_one_way():
    graph: dict[str, set[str]] = {pkg: set() for pkg in ALLOWED}
    wrong = []
    for pkg, path, tree in _modules(tuple(ALLOWED)):
        used = _imported_packages(tree) - {pkg}
        graph[pkg] |= used
        wrong += [f"{path.relative_to(ROOT)} imports {other}" for other in sorted(used - ALLOWED[pkg])]
    assert wrong == []
    # and so there is no cycle among the packages: a depth-first walk never meets a package on its path
    def walk(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"import cycle: {' -> '.join(path + (node,))}"
        for nxt in graph[node]:
            walk(nxt, path + (node,))

    for pkg in graph:
        walk(pkg, ())


def _is_data_table(node: ast.stmt) -> bool:
    """A module-level assignment of a literal (a table of letters, a schema): counted apart."""
    return isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(
        node.value, (ast.Dict, ast.List, ast.Tuple, ast.Set, ast.Constant, ast.Call))


def test_no_module_over_450_lines():
    long = []
    for _pkg, path, tree in _modules():
        tables = sum(n.end_lineno - n.lineno + 1 for n in tree.body
                     if _is_data_table(n) and n.end_lineno - n.lineno >= 5)
        lines = len(path.read_text("utf-8").splitlines()) - tables
        if lines > MAX_MODULE_LINES:
            long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert long == []


def test_no_function_over_60_lines():
    long = []
    for _pkg, path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines")
    assert long == []


def test_library_modules_do_not_print():
    printing = []
    for _pkg, path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                printing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert printing == []


def _log_parameters(tree: ast.AST) -> list[int]:
    """Lines of functions (lambdas too) that accept a parameter named ``log``: a progress callback."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = node.args
            names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if p is not None]
            if "log" in names:
                found.append(node.lineno)
    return found


def test_library_modules_log_through_logging_not_callbacks():
    """Progress goes to ``logging.getLogger(__name__)``; the command line decides what is shown."""
    callbacks = [f"{path.relative_to(ROOT)}:{line}" for _pkg, path, tree in _modules()
                 for line in _log_parameters(tree)]
    assert callbacks == []


@pytest.mark.parametrize("source, found", [
    ("def build(paths, *, log=print):\n    pass\n", [1]),
    ("class A:\n    def load(self, settings, log: Log | None = None):\n        pass\n", [2]),
    ("f = lambda log: None\n", [1]),
    ("logger = logging.getLogger(__name__)\ndef build(paths, logger=None):\n    logger.info('x')\n", []),
])
def test_the_log_parameter_check_sees_parameters(source, found):
    assert _log_parameters(ast.parse(source)) == found


@pytest.mark.parametrize("source, broken", [
    ("import search.storage\n", False),
    ("from web.app import create_app\n", True),
    ("def f():\n    import sangam.cli\n", True),
])
def test_the_import_check_sees_imports(source, broken):
    """The dependency test reads both import forms (a check that cannot fail would prove nothing)."""
    used = _imported_packages(ast.parse(source))
    assert bool(used - ALLOWED["index"]) is broken
