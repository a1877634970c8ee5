"""Draw gluon_ssd's rooms and import arrows: ``python scripts/architecture_graph.py [OUT.png]``.

The graph is read from the source with :mod:`ast` (nothing is imported): every ``import`` and
``from ... import`` statement of every module, those inside functions included, resolved to the
package's modules and then collapsed to rooms (a subpackage such as ``training``, or a top-level
module such as ``zoo``). A room's layer is the length of the longest import chain below it, so
every arrow points down; an import closing a cycle between rooms points up, dashed red. Each
room is a box listing its modules; an arrow is drawn for each room-to-room import that no longer
chain implies (the full list is printed).

Writes ``docs/architecture.png`` by default (docs/architecture.md shows it).
"""
import ast
import importlib.util
import os
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "gluon_ssd"


def package_modules(root):
    """{dotted name: path} of every module under the package folder ``root``."""
    modules = {}
    base = os.path.dirname(root)
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            dotted = os.path.relpath(path, base)[:-3].replace(os.sep, ".")
            if dotted.endswith(".__init__"):
                dotted = dotted[:-len(".__init__")]
            modules[dotted] = path
    return modules


def imported_modules(name, path, modules):
    """The package modules that module ``name`` (file ``path``) imports, anywhere in its code."""
    anchor = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = importlib.util.resolve_name("." * node.level + (node.module or ""),
                                                 anchor) if node.level else node.module
            # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name`` mod.
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules
                       else source for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def room_of(module):
    """``gluon_ssd.training.loop`` -> ``training``; ``gluon_ssd.zoo`` -> ``zoo``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def room_graph(modules):
    """({room: set of rooms it imports}, {room: sorted module short names})."""
    edges, members = {}, {}
    for name, path in modules.items():
        room = room_of(name)
        members.setdefault(room, []).append(os.path.basename(path))
        edges.setdefault(room, set()).update(
            room_of(t) for t in imported_modules(name, path, modules) if room_of(t) != room)
    return edges, {room: sorted(names) for room, names in members.items()}


def layers(edges):
    """({room: layer}, set of upward edges).

    A room's layer is 0 when it imports no other room, else 1 + the highest layer it imports.
    An import that closes a cycle between rooms (the house's rule forbids it, but the picture
    must still show it) is left out of the layering and returned as an upward edge.
    """
    layer, visiting, upward = {}, set(), set()

    def visit(room):
        visiting.add(room)
        below = []
        for other in sorted(edges[room]):
            if other in visiting:
                upward.add((room, other))
                continue
            below.append(layer[other] if other in layer else visit(other))
        visiting.discard(room)
        layer[room] = 1 + max(below, default=-1)
        return layer[room]

    for room in sorted(edges):
        if room not in layer:
            visit(room)
    return layer, upward


def direct_edges(edges, upward=()):
    """The downward arrows no longer downward path implies (a transitive reduction)."""
    edges = {room: {o for o in others if (room, o) not in upward} for room, others in edges.items()}

    def reachable(start):
        seen, todo = set(), list(edges[start])
        while todo:
            room = todo.pop()
            if room not in seen:
                seen.add(room)
                todo.extend(edges[room])
        return seen

    reach = {room: reachable(room) for room in edges}
    return {(a, b) for a in edges for b in edges[a]
            if not any(b in reach[c] for c in edges[a] if c != b)}


def draw(edges, members, out):
    """Save the picture: rooms as boxes in rows by layer (bottom: layer 0), arrows downward."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    level, upward = layers(edges)
    rows = {}
    for room in sorted(level, key=lambda r: (level[r], r)):
        rows.setdefault(level[room], []).append(room)
    width = max(len(r) for r in rows.values())
    fig, ax = plt.subplots(figsize=(3.0 * width + 1, 1.45 * len(rows) + 0.6), dpi=100)
    centre = {}
    for lay, rooms in rows.items():
        for k, room in enumerate(rooms):
            x = (k + 0.5) * width / len(rooms) * 3.0
            y = lay * 1.45
            centre[room] = (x, y)
            package = "__init__.py" in members[room] and room != "__init__"
            label = (room + "/" if package else
                     "gluon_ssd/__init__.py" if room == "__init__" else room + ".py")
            text = ", ".join(m[:-3] for m in members[room] if m != "__init__.py" or not package)
            wrapped = textwrap.fill(text if package else "", width=44)
            ax.add_patch(FancyBboxPatch((x - 1.3, y - 0.45), 2.6, 0.9,
                                        boxstyle="round,pad=0.02", fc="#e8f0fa", ec="#335"))
            ax.text(x, y + 0.27, label, ha="center", va="center", fontsize=10, weight="bold")
            ax.text(x, y - 0.08, wrapped, ha="center", va="center", fontsize=7, color="#333")
    for a, b in sorted(direct_edges(edges, upward)):
        (xa, ya), (xb, yb) = centre[a], centre[b]
        ax.annotate("", xy=(xb, yb + 0.45), xytext=(xa, ya - 0.45),
                    arrowprops=dict(arrowstyle="->", color="#335", lw=0.9, alpha=0.8,
                                    connectionstyle="arc3,rad=0.08"))
    for a, b in sorted(upward):  # a cycle between rooms: drawn apart, in red
        (xa, ya), (xb, yb) = centre[a], centre[b]
        ax.annotate("", xy=(xb, yb - 0.45), xytext=(xa, ya + 0.45),
                    arrowprops=dict(arrowstyle="->", color="#d22", lw=1.6, ls="--",
                                    connectionstyle="arc3,rad=-0.3"))
    ax.set_xlim(-0.2, 3.0 * width + 0.2)
    ax.set_ylim(-0.7, 1.45 * (len(rows) - 1) + 0.7)
    ax.axis("off")
    ax.set_title("gluon_ssd: rooms (boxes, with their modules) and imports (arrows point at the "
                 "imported room; implied ones omitted)", fontsize=10)
    fig.tight_layout()
    tmp = out + ".tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, out)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = argv[0] if argv else os.path.join(REPO, "docs", "architecture.png")
    modules = package_modules(os.path.join(REPO, PACKAGE))
    edges, members = room_graph(modules)
    level, upward = layers(edges)
    for room in sorted(level, key=lambda r: (level[r], r)):
        print(f"layer {level[room]:2d}  {room:18s} imports {', '.join(sorted(edges[room])) or '-'}")
    for a, b in sorted(upward):
        print(f"upward import (a cycle between rooms): {a} -> {b}")
    draw(edges, members, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
