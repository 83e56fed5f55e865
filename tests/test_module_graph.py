"""The house's rooms (docs/architecture.md): no import loop anywhere in lib_garment, and no room imports a higher one.

Every import counts, also one placed inside a function: a deferred import hides a loop from Python at start-up
but not from a reader, and the loop is still there. Rooms are the sub-packages of lib_garment (and its top-level
modules); inside host/ each sub-package is a room of its own. ``LAYERS`` lists them from the bottom up: a room
may import its own modules and rooms of lower layers, never a higher layer and never a sibling in its own layer.
The engine's layers are shared; above them stand two towers that know nothing of each other: the WebUI glue
(host/) and the command line (cli/).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "lib_garment"

ENGINE_LAYERS: tuple[tuple[str, ...], ...] = (
    ("lib_garment",),  # the package: its version
    ("errors",),  # what every room raises
    ("pydantic_compat", "paths", "deps", "samples", "arrays", "request_data"),  # foundations
    ("imageio", "request"),
    ("b64images",),
    ("install_plan",),
    ("installer",),
    ("runtime",),  # where models run, on which device
    ("models",),  # weight files: registry, download, verification, loading
    ("maps",),  # control maps
    ("segment",),  # text-prompted segmentation and matting
    ("generate",),  # tasks → GenerationPlan, the exact composite
    ("presets",),  # marketplace rules as data, framing, plain backgrounds, edges, shadows, the compliance check
    ("restore",),  # hands and faces
    ("client",),  # a WebUI's REST API from outside
    ("catalogue",),  # a manifest of SKUs → jobs, their SQLite state, the resumable runner
    ("scale", "evaluate"),  # the catalogue across many WebUI servers (Celery + Redis); FID / KID / IS, fidelity, masks
    ("environment",),  # what is installed, for doctor and the status panel
    ("environment_view",),
)
TOWERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "host": (
        ("host",),  # host/__init__.py: the room map's docstring, nothing else
        ("host.webui",),  # adapters to the WebUI's parts: processing, ControlNet, settings, progress
        ("host.passes",),  # generation and restore passes the WebUI runs for a job
        ("host.rest", "host.ui"),  # REST routes; the tab's widgets and handlers
        ("host.hooks",),  # the Script classes and callback registration the WebUI loads
    ),
    "cli": (("cli",), ("__main__",)),
}


def layer_of() -> dict[str, tuple[str, int]]:
    """Room → (tower, layer index); the engine is the tower "" whose layers every tower stands on."""
    placed = {room: ("", i) for i, layer in enumerate(ENGINE_LAYERS) for room in layer}
    base = len(ENGINE_LAYERS)
    for tower, layers in TOWERS.items():
        placed.update({room: (tower, base + i) for i, layer in enumerate(layers) for room in layer})
    return placed


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def room_of(module: str, root: Path) -> str:
    """``lib_garment.host.rest.routes`` → ``host.rest``; ``lib_garment.maps.edges`` → ``maps``; top-level module
    files are rooms of their own (``lib_garment.request`` → ``request``)."""
    parts = module.split(".")
    if len(parts) == 1:
        return parts[0]
    if parts[1] == "host" and len(parts) > 2 and (root / PACKAGE / "host" / parts[2]).is_dir():
        return f"host.{parts[2]}"
    return parts[1]


def imports_of(path: Path, module: str, known: set[str]) -> set[str]:
    """The package modules ``path`` imports, wherever the import statement stands (functions included).

    ``from a.b import c`` counts as an import of ``a.b.c`` when that is a module, else of ``a.b``."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for name in names:
            target = name
            while target and target not in known:  # `import lib_garment.maps.edges.x` → the module that exists
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    paths = {module_name(p, root): p for p in (root / PACKAGE).rglob("*.py")}
    known = set(paths)
    return {module: imports_of(path, module, known) for module, path in paths.items()}


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan), as a closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:  # recursion depth ≤ the number of modules (a few hundred)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [cycle_through(sorted(c), graph) for c in components]


def cycle_through(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A closed path a → … → a inside ``component`` (breadth-first from its first module, so it is short)."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for succ in sorted(graph[node] & members):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if succ not in came_from:
                    came_from[succ] = node
                    nxt.append(succ)
        frontier = nxt
    raise AssertionError(f"no cycle in component {component}")  # Tarjan guarantees one


def wrong_way(graph: dict[str, set[str]], root: Path) -> tuple[list[str], list[str]]:
    """Imports that run upward, sideways or across towers, and rooms that no layer lists."""
    placed = layer_of()
    bad, unplaced = [], set()
    for module, targets in sorted(graph.items()):
        room = room_of(module, root)
        if room not in placed:
            unplaced.add(room)
            continue
        tower, level = placed[room]
        for target in sorted(targets):
            other = room_of(target, root)
            if other == room or other not in placed:
                unplaced |= {other} - set(placed)
                continue
            other_tower, other_level = placed[other]
            if other_tower not in ("", tower):
                bad.append(f"{module} → {target}: the {tower or 'engine'} room {room} imports the {other_tower} tower")
            elif other_level >= level:
                where = "a sibling in its layer" if other_level == level else "a higher room"
                bad.append(f"{module} → {target}: {room} imports {where}, {other}")
    return bad, sorted(unplaced)


def describe(cycles: Iterable[list[str]]) -> list[str]:
    return [" → ".join(cycle) for cycle in cycles]


# -- the house ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT)


def test_no_import_loop_anywhere_in_the_package(graph: dict[str, set[str]]) -> None:
    assert describe(loops(graph)) == []
    assert len(graph) > 100  # the scan really saw the package


def test_every_import_runs_downward(graph: dict[str, set[str]]) -> None:
    bad, unplaced = wrong_way(graph, ROOT)
    assert unplaced == [], "rooms missing from LAYERS/TOWERS: place them in tests/test_module_graph.py"
    assert bad == []


def test_every_listed_room_exists() -> None:
    """A room renamed or removed must leave the list too, so the list stays the map of the house."""
    existing = {room_of(name, ROOT) for name in import_graph(ROOT)}
    assert set(layer_of()) - existing == set()


def class_homes(root: Path) -> dict[str, list[str]]:
    """Each class name defined at module level in the package → the modules defining it."""
    homes: dict[str, list[str]] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf8")).body:
            if isinstance(node, ast.ClassDef):
                homes.setdefault(node.name, []).append(module_name(path, root))
    return homes


def test_every_class_name_is_unique_in_the_package() -> None:
    """Two classes of one name (two ``Detection``s, two ``ModelFile``s) make every reader check which one."""
    assert {name: where for name, where in class_homes(ROOT).items() if len(where) > 1} == {}


# -- the checks can fail -------------------------------------------------------------------------------------------


def write_package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf8")
    return tmp_path


def test_a_loop_hidden_inside_a_function_is_named(tmp_path: Path) -> None:
    root = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "host/__init__.py": "",
            "host/rest/__init__.py": "",
            "host/rest/routes.py": "from lib_garment.host.rest.answers import Job\n",
            "host/rest/answers.py": "def f():\n    from .routes import queued\n",
        },
    )
    assert describe(loops(import_graph(root))) == [
        "lib_garment.host.rest.answers → lib_garment.host.rest.routes → lib_garment.host.rest.answers"
    ]


def test_a_longer_loop_through_package_imports_is_named(tmp_path: Path) -> None:
    root = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "maps/__init__.py": "from lib_garment.maps import devices\n",
            "maps/devices.py": "import lib_garment.models.yolo\n",
            "models/__init__.py": "",
            "models/yolo.py": "from lib_garment import maps\n",
        },
    )
    assert describe(loops(import_graph(root))) == [
        "lib_garment.maps → lib_garment.maps.devices → lib_garment.models.yolo → lib_garment.maps"
    ]


def test_upward_sideways_and_cross_tower_imports_are_named(tmp_path: Path) -> None:
    root = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "models/__init__.py": "",
            "models/yolo.py": "def f():\n    from lib_garment.maps.devices import check\n",
            "maps/__init__.py": "",
            "maps/devices.py": "",
            "host/__init__.py": "",
            "host/ui/__init__.py": "",
            "host/ui/tab.py": "from lib_garment.host.rest import routes\n",
            "host/rest/__init__.py": "",
            "host/rest/routes.py": "from lib_garment.cli import main\n",
            "cli/__init__.py": "",
            "cli/main.py": "from lib_garment.maps import devices\n",
        },
    )
    bad, unplaced = wrong_way(import_graph(root), root)
    assert unplaced == []
    assert bad == [
        "lib_garment.host.rest.routes → lib_garment.cli.main: the host room host.rest imports the cli tower",
        "lib_garment.host.ui.tab → lib_garment.host.rest.routes: host.ui imports a sibling in its layer, host.rest",
        "lib_garment.models.yolo → lib_garment.maps.devices: models imports a higher room, maps",
    ]


def test_a_class_name_defined_twice_is_found(tmp_path: Path) -> None:
    files = {"__init__.py": "", "a.py": "class Detection: ...\n", "b/c.py": "class Detection:\n    pass\n"}
    root = write_package(tmp_path, files)
    assert class_homes(root)["Detection"] == ["lib_garment.a", "lib_garment.b.c"]


def test_a_room_no_layer_lists_is_reported(tmp_path: Path) -> None:
    root = write_package(tmp_path, {"__init__.py": "", "unlisted_room/__init__.py": "from lib_garment import errors\n"})
    (tmp_path / PACKAGE / "errors.py").write_text("", encoding="utf8")
    assert wrong_way(import_graph(root), root) == ([], ["unlisted_room"])
