"""The layer rule, read from the source: bench → baselines → framepack and bench → metrics, nothing
imports bench, framepack imports neither baselines nor metrics, and no import cycle.

Every `import` statement counts: at module level, inside functions, and under `TYPE_CHECKING`
(a cycle that only a function-level import closes is still a cycle a reader has to untangle).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("framepack", "baselines", "metrics", "bench")
# For each package, the packages of this project it may import (besides itself).
MAY_IMPORT = {
    "framepack": set(),
    "metrics": set(),
    "baselines": {"framepack"},
    "bench": {"framepack", "baselines", "metrics"},
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, module: str, known: set[str]) -> set[str]:
    """The project modules `path` (module `module`) imports, anywhere in the file; `from a import b`
    counts as importing `a.b` when that is a module, else `a`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:  # `import a.b.c` imports the modules a, a.b, a.b.c
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    found.discard(module)
    return found


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    files = {module_name(p, root): p for package in packages for p in sorted((root / package).rglob("*.py"))}
    known = set(files)
    return {module: imported_modules(path, module, known) for module, path in files.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    broken = []
    for module, targets in graph.items():
        layer = module.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if other != layer and other not in MAY_IMPORT[layer]:
                broken.append(f"{module} imports {target} ({layer} may import {sorted(MAY_IMPORT[layer]) or 'nothing'})")
    return broken


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_layers_import_only_downwards(graph):
    assert upward_imports(graph) == []


def test_no_module_imports_itself_back_through_others(graph):
    assert cycles(graph) == []


def test_the_checks_see_function_level_upward_imports_and_cycles(tmp_path):
    """The walk itself: a function-level upward import and a two-module cycle are both reported."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "framepack" / "sampler.py").write_text("def run():\n    from bench.cli import main\n")
    (tmp_path / "bench" / "cli.py").write_text("from bench import tables\n")
    (tmp_path / "bench" / "tables.py").write_text("import bench.cli\n")
    graph = import_graph(tmp_path)
    assert upward_imports(graph) == ["framepack.sampler imports bench.cli (framepack may import nothing)"]
    assert cycles(graph) == [["bench.cli", "bench.tables"]]
