"""The layout shows the pipeline: no import cycle between packages, no package reaching into
another's underscored names, no module far above 400 lines (read statically, with ast)."""
import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "scratchlight"
MAX_LINES = 450  # "about 400": a module past this should be split by concept


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, parts


def _imports(path, parts):
    """(imported module parts, imported names) of every import in a module, relative ones
    resolved, including those inside functions."""
    tree = ast.parse(path.read_text())
    package = parts if path.name == "__init__.py" else parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = base + tuple(node.module.split(".")) if node.module else base
            elif node.module and node.module.split(".")[0] == "scratchlight":
                target = tuple(node.module.split(".")[1:])
            else:
                continue
            yield target, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "scratchlight":
                    yield tuple(a.name.split(".")[1:]), []


def _unit(parts):
    """The pipeline unit of a module: its top-level package or module (``engines``,
    ``session``)."""
    return parts[0] if parts else "scratchlight"


def test_no_import_cycle_between_packages():
    graph = defaultdict(set)
    for path, parts in _modules():
        for target, _ in _imports(path, parts):
            a, b = _unit(parts), _unit(target)
            if a != b and a != "scratchlight" and b != "scratchlight":
                graph[a].add(b)
    state, cycle = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycle.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(list(graph)):
        if node not in state:
            visit(node, [node])
    assert not cycle, f"import cycles between packages: {cycle}"


def test_no_package_imports_another_packages_private_names():
    bad = []
    for path, parts in _modules():
        for target, names in _imports(path, parts):
            if _unit(target) == _unit(parts) or not target:
                continue
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            private_module = [p for p in target if p.startswith("_")]
            if private or private_module:
                bad.append(f"{'/'.join(parts)} imports {'.'.join(target)}: {private or private_module}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_module_size(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(SRC)} has {n} lines; split it by concept"
