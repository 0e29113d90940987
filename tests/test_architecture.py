"""The package's structure, read from its source: no import cycles, command-line code kept at the edge, and
function-level imports of the package's own modules only where they defer TensorFlow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cyclegan_mri"
# Modules that read, transform or score data and never reach for the command line.
LOW_LEVEL = ("cyclegan_mri.data", "cyclegan_mri.metrics", "cyclegan_mri.sliding_window", "cyclegan_mri.networks",
             "cyclegan_mri.segmentation.metrics", "cyclegan_mri.fusion.metrics", "cyclegan_mri.fusion.rules",
             "cyclegan_mri.specs", "cyclegan_mri.record", "cyclegan_mri.domains", "cyclegan_mri.errors",
             "cyclegan_mri.progress")
TENSORFLOW = ("tensorflow", "keras")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported name, at module level) for every import in ``path``; ``from package import module`` names the
    module. Imports under ``if TYPE_CHECKING:`` are left out: they never run."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, top: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    found.append((full if full in MODULES else child.module, top))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False)
            else:
                visit(child, top)

    visit(tree, True)
    return found


def own(name: str) -> str | None:
    """The package module ``name`` loads (a package's ``__init__`` for a package), or None for another library's."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


GRAPH = {module: {(own(name), top) for name, top in imports(path) if own(name) and own(name) != module}
         for module, path in MODULES.items()}


def top_level_edges(module: str) -> set[str]:
    """What importing ``module`` imports at once: its module-level imports and the packages above each."""
    edges = set()
    for target, top in GRAPH[module]:
        if top:
            edges.add(target)
            parent = target.rpartition(".")[0]
            while parent and parent != module and not module.startswith(parent + "."):
                edges.add(parent)
                parent = parent.rpartition(".")[0]
    return edges


def loads_tensorflow(module: str, seen: frozenset = frozenset()) -> bool:
    """Whether importing ``module`` imports TensorFlow or Keras, directly or through the package's modules."""
    if any(name.split(".")[0] in TENSORFLOW for name, top in imports(MODULES[module]) if top):
        return True
    return any(loads_tensorflow(target, seen | {module}) for target in top_level_edges(module) if target not in seen)


def cycle_from(start: str) -> list[str] | None:
    """A chain of module-level imports from ``start`` back to itself, if any."""
    stack = [(start, [start])]
    visited = set()
    while stack:
        module, path = stack.pop()
        for target in top_level_edges(module):
            if target == start:
                return [*path, start]
            if target not in visited:
                visited.add(target)
                stack.append((target, [*path, target]))
    return None


def test_the_import_graph_is_read_from_every_module():
    assert "cyclegan_mri.specs" in MODULES and "cyclegan_mri.cli.train" in MODULES
    assert ("cyclegan_mri.record", True) in GRAPH["cyclegan_mri.cli.train"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_itself_back(module):
    cycle = cycle_from(module)
    assert cycle is None, " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(LOW_LEVEL)))
def test_low_level_modules_never_import_command_line_code(module):
    assert not [target for target, _ in GRAPH[module] if target.startswith("cyclegan_mri.cli")]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_function_level_imports_of_the_package_only_defer_tensorflow(module):
    deferred = sorted({target for target, top in GRAPH[module] if not top})
    if not deferred:
        return
    assert not loads_tensorflow(module), f"{module} loads TensorFlow anyway; import {deferred} at the top"
    needless = [target for target in deferred if not loads_tensorflow(target)]
    assert not needless, f"{module} defers {needless}, which load no TensorFlow; import them at the top"


def test_the_specifications_and_the_run_record_load_no_tensorflow():
    for module in ("cyclegan_mri.specs", "cyclegan_mri.record", "cyclegan_mri.cli.train", "cyclegan_mri.cli.args"):
        assert not loads_tensorflow(module), module
