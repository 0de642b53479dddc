"""The library's import graph reads top-down, with no circle (file level).

Every ``import`` of a ``tutorial_lib`` module counts, also the ones inside functions (a lazy
import is still a dependency). Layers, from the bottom:

0. base: ``_validate``, ``_io`` (atomic writes), ``_style`` (the plot style), ``config``,
   ``exercises``, ``claims``
1. sound and pictures: ``audio``, ``plotting``, ``widgets``, ``mel``
2. networks and data: ``models.*``, ``data.*``, ``tokens`` (notes as tokens)
3. diffusion math, training and checkpoints: ``schedules``, ``objectives``, ``samplers.*``,
   ``vdiffusion``, ``metrics``, ``checkpoints``, ``training``, ``distributed`` (the
   trainer's torchrun helpers), ``memory`` (a training step's peak memory), ``codecs``,
   ``diagnostics``
4. trained model families: ``families.*``
5. ``registry`` (finds the families), ``render`` (MIDI files through a family),
   ``pipelines`` (the Audio Diffusion pipeline's call on chapter 4's family), ``export``
   (reference networks as ONNX graphs)
6. entry points: ``cli``, ``__main__``, the package itself

A module may import its own layer or lower ones, never a higher one, and no set of modules
may import each other in a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tutorial_lib

ROOT = Path(tutorial_lib.__file__).resolve().parent

LAYERS: dict[str, int] = {
    "_validate": 0, "_io": 0, "_style": 0, "config": 0, "exercises": 0,
    "claims": 0,
    "audio": 1, "plotting": 1, "widgets": 1, "mel": 1,
    "models": 2, "data": 2, "tokens": 2,
    "schedules": 3, "objectives": 3, "samplers": 3, "vdiffusion": 3, "metrics": 3,
    "note_metrics": 3,
    "checkpoints": 3, "training": 3, "distributed": 3, "memory": 3, "codecs": 3,
    "diagnostics": 3,
    "families": 4,
    "registry": 5, "render": 5, "pipelines": 5, "export": 5,
    "cli": 6, "__main__": 6, "": 6,
}  # fmt: skip


def modules(root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """``"tutorial_lib.x.y" -> (file, is_package)`` for every module of the package."""
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the library modules it imports (anywhere in the file)."""
    mods = modules(root)
    top = root.name
    graph: dict[str, set[str]] = {}
    for name, (path, is_pkg) in mods.items():
        package = name.split(".") if is_pkg else name.split(".")[:-1]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.split(".")[0] == top]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    where = ".".join(base + ([node.module] if node.module else []))
                elif (node.module or "").split(".")[0] == top:
                    where = node.module
                else:
                    continue
                # `from . import audio` imports the module tutorial_lib.audio
                targets = [f"{where}.{a.name}" if f"{where}.{a.name}" in mods else where
                           for a in node.names]  # fmt: skip
            for target in targets:
                while target not in mods and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target != name:
                    deps.add(target)
        graph[name] = deps
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer(module: str) -> int:
    parts = module.split(".")[1:]
    first = parts[0] if parts else ""
    if first not in LAYERS:
        raise KeyError(
            f"{module} has no layer: add it to LAYERS in tests/test_import_graph.py (and to "
            f"the layer table in docs/FAMILIES.md, 'The layers')."
        )
    return LAYERS[first]


def test_the_cycle_finder_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "tutorial_lib._io" in graph["tutorial_lib.audio"]  # inside a function
    assert "tutorial_lib.families._drums" in graph["tutorial_lib.families.drums_unet"]
    assert "tutorial_lib.models.unet1d" in graph["tutorial_lib.families.drums_unet"]


def test_no_import_circles():
    found = circles(import_graph())
    assert not found, (
        "import circles in tutorial_lib (each list imports itself round): "
        + "; ".join(" <-> ".join(c) for c in found)
        + ". Fix: move what the lower module needs down (see docs/FAMILIES.md, 'The layers')."
    )


def test_imports_go_down_the_layers():
    bad = [
        f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
        for a, deps in sorted(import_graph().items())
        for b in sorted(deps)
        if layer(b) > layer(a)
    ]
    assert not bad, "imports that reach up a layer:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("forbidden", ["data", "training", "checkpoints", "registry", "families"])
def test_networks_are_only_networks(forbidden):
    for name, deps in import_graph().items():
        if name.startswith("tutorial_lib.models"):
            assert not any(d.split(".")[1] == forbidden for d in deps), (name, deps)
