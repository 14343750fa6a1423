"""The layout shows the pipeline: no import cycle (between modules, and between units: the
packages, the top-level modules such as ``session.py`` and the root ``__init__``), no
package reaching into another's underscored names, no module of the package or of
``benchmarks/`` above 400 lines (read statically, with ast), and ``docs/architecture.md``
lists every module of the package, one line each, and names no module that does not exist.
A module's lazy imports count as imports: those inside functions, and the names of a
``_LAZY_EXPORTS = {"Name": ".module"}`` table that its PEP 562 ``__getattr__`` imports on
first use (the root package's)."""
import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "scratchlight"
BENCHMARKS = REPO / "benchmarks"
ARCHITECTURE = REPO / "docs" / "architecture.md"
MAX_LINES = 400  # a module past this should be split by concept
ROOT_UNIT = "scratchlight"  # the root __init__: a unit of its own


def _parts(path):
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" else parts


MODULES = {_parts(p): p for p in sorted(SRC.rglob("*.py"))}
"""Dotted parts below ``scratchlight`` (``()`` for the root ``__init__``) -> file."""
BENCHMARK_MODULES = {("benchmarks", p.stem): p for p in sorted(BENCHMARKS.glob("*.py"))}


def _lazy_exports(tree):
    """(name, module) of a module-level ``_LAZY_EXPORTS = {"Name": ".module", ...}`` table,
    as the ``from .module import Name`` that its ``__getattr__`` does on first use."""
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
                and any(isinstance(t, ast.Name) and t.id == "_LAZY_EXPORTS" for t in node.targets)):
            for key, value in zip(node.value.keys, node.value.values):
                yield ast.literal_eval(key), ast.literal_eval(value)


def _imports(path, parts):
    """Parts of every scratchlight module a module imports, relative imports resolved, those
    inside functions and those of a ``_LAZY_EXPORTS`` table included; ``from pkg import
    name`` counts as importing ``pkg.name`` where that is a module. Yields (target parts,
    imported names)."""
    tree = ast.parse(path.read_text())
    package = parts if path.name == "__init__.py" else parts[:-1]
    lazy = [ast.ImportFrom(module=module.lstrip(".") or None,
                           names=[ast.alias(name=name)], level=len(module) - len(module.lstrip(".")))
            for name, module in _lazy_exports(tree)]
    for node in [*ast.walk(tree), *lazy]:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = base + tuple(node.module.split(".")) if node.module else base
            elif node.module and node.module.split(".")[0] == "scratchlight":
                target = tuple(node.module.split(".")[1:])
            else:
                continue
            for a in node.names:
                sub = target + (a.name,)
                yield (sub, []) if sub in MODULES else (target, [a.name])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "scratchlight":
                    yield tuple(a.name.split(".")[1:]), []


def _benchmark_imports(path):
    """The benchmark modules a benchmark script imports (they import each other by name)."""
    names = {p[1] for p in BENCHMARK_MODULES}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module in names:
            yield ("benchmarks", node.module)
        elif isinstance(node, ast.Import):
            yield from (("benchmarks", a.name) for a in node.names if a.name in names)


def _unit(parts):
    """The pipeline unit of a module: its top-level package or module (``engines``,
    ``session``), or the root package itself."""
    return parts[0] if parts else ROOT_UNIT


def _cycles(graph):
    """The strongly connected components of more than one node of ``graph`` (node -> set
    of nodes), each as a sorted list (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def _module_graph():
    graph = defaultdict(set)
    for parts, path in MODULES.items():
        for target, _ in _imports(path, parts):
            if target != parts:
                graph[parts].add(target)
    for parts, path in BENCHMARK_MODULES.items():
        graph[parts].update(t for t in _benchmark_imports(path) if t != parts)
    return graph


def _name(parts):
    return "/".join(parts) or "scratchlight/__init__"


def test_cycle_finder_finds_cycles_and_only_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": set(), "f": {"f"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_lazy_exports_count_as_the_roots_imports():
    """The root imports its public API lazily; its table is read as imports, so the rules
    below still see the root above the modules it exports (session, engines, ...)."""
    root = {target for target, _ in _imports(SRC / "__init__.py", ())}
    assert {("session",), ("engines",), ("backend",), ("io",), ("version",)} <= root
    tree = ast.parse("_LAZY_EXPORTS = {'Session': '.session', 'Engine': '.engines.base'}")
    assert list(_lazy_exports(tree)) == [("Session", ".session"), ("Engine", ".engines.base")]


def test_no_import_cycle_between_modules():
    cycles = [[_name(p) for p in c] for c in _cycles(_module_graph())]
    assert not cycles, f"import cycles between modules: {cycles}"


def test_no_import_cycle_between_units():
    graph = defaultdict(set)
    for a, targets in _module_graph().items():
        if a in BENCHMARK_MODULES:
            continue
        graph[_unit(a)].update(_unit(b) for b in targets if _unit(b) != _unit(a))
    assert ROOT_UNIT in graph and "session" in graph  # the root and top-level modules count
    cycles = _cycles(graph)
    assert not cycles, f"import cycles between units: {cycles}"


def test_no_package_imports_another_packages_private_names():
    bad = []
    for parts, path in MODULES.items():
        for target, names in _imports(path, parts):
            if _unit(target) == _unit(parts) or not target:
                continue
            private = [n for n in names if n.startswith("_") and not n.endswith("__")]
            private_module = [p for p in target if p.startswith("_")]
            if private or private_module:
                bad.append(f"{_name(parts)} imports {'.'.join(target)}: {private or private_module}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", sorted(MODULES.values()) + sorted(BENCHMARK_MODULES.values()),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_module_size(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(REPO)} has {n} lines; split it by concept"


def _architecture_list():
    """(module path, description) of every line ``- `path.py` — ...`` of the section
    ``## Modules`` of docs/architecture.md; paths relative to src/scratchlight."""
    text = ARCHITECTURE.read_text()
    assert "\n## Modules" in text, "docs/architecture.md has no '## Modules' section"
    section = text.split("\n## Modules", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- `([\w/]+\.py)` — (.*)$", section, flags=re.M)


def test_architecture_lists_every_module_once():
    listed = [path for path, _ in _architecture_list()]
    files = {p.relative_to(SRC).as_posix() for p in MODULES.values()}
    missing = sorted(files - set(listed))
    unknown = sorted(set(listed) - files)
    twice = sorted({p for p in listed if listed.count(p) > 1})
    assert not missing, f"docs/architecture.md does not list: {missing}"
    assert not unknown, f"docs/architecture.md lists modules that do not exist: {unknown}"
    assert not twice, f"docs/architecture.md lists these more than once: {twice}"
    empty = [p for p, what in _architecture_list() if len(what.strip()) < 10]
    assert not empty, f"docs/architecture.md says nothing about: {empty}"


def test_architecture_names_only_modules_that_exist():
    """Every `path.py` or `package/` the page names anywhere exists (in src/scratchlight, or
    from the repository root)."""
    text = ARCHITECTURE.read_text()
    bad = []
    for name in sorted(set(re.findall(r"`([\w./]+(?:\.py|/))`", text))):
        if not any((base / name).exists() for base in (SRC, REPO)):
            bad.append(name)
    assert not bad, f"docs/architecture.md names what does not exist: {bad}"


def test_architecture_groups_are_in_import_order():
    """A unit imports only units that docs/architecture.md lists before it."""
    order = []
    for path, _ in _architecture_list():
        unit = _unit(_parts(SRC / path))
        if unit not in order:
            order.append(unit)
    graph = defaultdict(set)
    for a, targets in _module_graph().items():
        if a not in BENCHMARK_MODULES:
            graph[_unit(a)].update(_unit(b) for b in targets if _unit(b) != _unit(a))
    late = [f"{u} imports {v}" for u in order for v in sorted(graph[u])
            if v in order and order.index(v) > order.index(u)]
    assert not late, "docs/architecture.md lists these units before what they import: " + \
        "; ".join(late)
