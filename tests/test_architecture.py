"""The package's shape: role folders, imports only downward (no cycle, module or function level),
small modules and functions, no issue-tracker references in the installed code."""
import ast
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gluon_ssd")
MAX_TOP_LEVEL_MODULES = 8
MAX_MODULE_LINES = 400
MAX_FUNCTION_CODE_LINES = 60


def _modules():
    """{dotted module name: file path} of every module of the package."""
    found = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                found[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = path
    return found


def import_graph(modules):
    """{module: set of package modules it imports}, every import statement counted (also those
    inside functions), ``from package import module`` resolved to the module."""
    graph = {}
    for name, path in modules.items():
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] +
                                    ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    edges.add(target if target in modules else base)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_sees_a_cycle_and_its_absence():
    # a -> b -> c -> a is a cycle; a -> b -> c is not.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_import_graph_resolves_relative_and_function_level_imports(tmp_path):
    pkg = tmp_path / "p"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "x.py").write_text("def f():\n    from ..y import g\n")
    (pkg / "y.py").write_text("from .sub import x\n")
    modules = {"p": str(pkg / "__init__.py"), "p.sub": str(pkg / "sub" / "__init__.py"),
               "p.sub.x": str(pkg / "sub" / "x.py"), "p.y": str(pkg / "y.py")}
    graph = import_graph(modules)
    assert graph["p.sub.x"] == {"p.y"} and graph["p.y"] == {"p.sub.x"}
    assert find_cycle(graph) == ["p.sub.x", "p.y", "p.sub.x"]


def test_no_import_cycle():
    cycle = find_cycle(import_graph(_modules()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def room_graph(graph):
    """{room: rooms it imports}: a room is a subpackage of gluon_ssd or a top-level module."""
    def room(module):
        parts = module.split(".")
        return ".".join(parts[:2])
    rooms = {}
    for module, edges in graph.items():
        rooms.setdefault(room(module), set()).update(room(e) for e in edges)
    return {r: edges - {r} for r, edges in rooms.items()}


def test_room_graph_groups_by_subpackage():
    graph = {"gluon_ssd.a.x": {"gluon_ssd.b.y"}, "gluon_ssd.b.y": {"gluon_ssd.top"},
             "gluon_ssd.top": set(), "gluon_ssd.a": {"gluon_ssd.a.x"}}
    assert room_graph(graph) == {"gluon_ssd.a": {"gluon_ssd.b"}, "gluon_ssd.b": {"gluon_ssd.top"},
                                 "gluon_ssd.top": set()}


def test_rooms_import_only_downward():
    # The top-level package (lazy names, the moved-module finder) imports nothing statically.
    graph = room_graph(import_graph(_modules()))
    graph.pop("gluon_ssd", None)
    cycle = find_cycle({r: {e for e in edges if e != "gluon_ssd"} for r, edges in graph.items()})
    assert cycle is None, "rooms in a circle: " + " -> ".join(cycle)


def test_few_modules_at_the_top():
    top = sorted(f for f in os.listdir(ROOT) if f.endswith(".py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


@pytest.mark.parametrize("name,path", sorted(_modules().items()))
def test_module_and_function_sizes(name, path):
    source = open(path, encoding="utf-8").read()
    assert source.count("\n") <= MAX_MODULE_LINES, f"{name}: {source.count(chr(10))} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant) and isinstance(
                    body[0].value.value, str):
                body = body[1:]  # the docstring does not count
            lines = (body[-1].end_lineno - body[0].lineno + 1) if body else 0
            assert lines <= MAX_FUNCTION_CODE_LINES, f"{name}.{node.name}: {lines} lines of code"


def test_no_issue_tracker_references_in_the_package():
    hits = [f"{path}:{i}" for path in _modules().values()
            for i, line in enumerate(open(path, encoding="utf-8"), 1)
            if re.search(r"\bIssue [0-9]", line)]
    assert not hits, hits
