"""The import layers of ARCHITECTURE.md, checked on the source: a room imports only its own layer's rooms and
the layers below, and a few rooms are kept away from what they must not know."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT

# Lowest first. A room (a top-level module or package of ganforge) may import the rooms of the layers below
# its own; within a layer only itself, or every room of the layer where the layer says so.
LAYERS: list[tuple[tuple[str, ...], bool]] = [
    (("viz",), False),  # drawing only: nothing of ganforge but viz
    (("errors",), False),
    (("nets",), False),
    (("losses", "objectives", "regularisers", "augment"), True),
    (("models",), False),
    (("data", "metrics"), False),
    (("sampling", "checkpoint", "quiet_trainer", "domain_classifier", "callbacks", "training", "resume", "evaluation",
      "generation", "config", "cli", "sweeps", "runtime"), True),
    (("app",), False),  # the evaluation app: a user-facing entry like train.py and evaluate.py
]
# What some rooms must not import even where the layers would allow it (packages, ganforge's or others).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "data": ("ganforge.viz", "ganforge.models", "ganforge.nets", "ganforge.losses", "matplotlib"),  # no drawing, no GAN
    "metrics": ("ganforge.callbacks", "ganforge.training", "ganforge.checkpoint", "lightning"),  # no Trainer, no files
}


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in the file, at any depth (under TYPE_CHECKING or in functions too)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module


def room_of(module: str) -> str | None:
    """`ganforge.metrics.domain` → `metrics`; None outside ganforge."""
    parts = module.split(".")
    return parts[1] if parts[0] == "ganforge" and len(parts) > 1 else None


def violations(package: Path) -> list[str]:
    """Every import in `package` (a ganforge source tree) that breaks the layers or a FORBIDDEN rule."""
    layer_of = {room: index for index, (rooms, _) in enumerate(LAYERS) for room in rooms}
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        room = relative.parts[0].removesuffix(".py")
        if room == "__init__":
            continue
        where = f"ganforge/{relative.as_posix()}"
        if room not in layer_of:
            found.append(f"{where}: room {room!r} is in no layer; add it to LAYERS (and ARCHITECTURE.md)")
            continue
        for line, module in imports(path):
            target = room_of(module)
            forbidden = [p for p in FORBIDDEN.get(room, ()) if module == p or module.startswith(p + ".")]
            if forbidden:
                found.append(f"{where}:{line}: {room} must not import {module}")
            elif target is None or target == room:
                continue
            elif target not in layer_of:
                found.append(f"{where}:{line}: imports {module}, whose room {target!r} is in no layer")
            elif layer_of[target] > layer_of[room] or (layer_of[target] == layer_of[room] and not LAYERS[layer_of[room]][1]):
                found.append(f"{where}:{line}: {room} (layer {layer_of[room]}) imports {module} (layer {layer_of[target]})")
    return found


def test_ganforge_imports_point_down_the_layers():
    found = violations(ROOT / "src" / "ganforge")
    assert not found, "imports against ARCHITECTURE.md's layers:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("file", "source", "expected"),
    [
        ("data/toy.py", "from ganforge.viz.plots import scatter_with_critic", "data must not import ganforge.viz.plots"),
        ("metrics/cas.py", "import lightning as L", "metrics must not import lightning"),
        ("metrics/domain.py", "from ganforge.data import GANDataModule", "metrics (layer 5) imports ganforge.data (layer 5)"),
        ("viz/plots.py", "from ganforge.errors import ConfigError", "viz (layer 0) imports ganforge.errors (layer 1)"),
        ("models/base.py", "def f():\n    from ganforge.training import train", "models (layer 4) imports ganforge.training"),
        ("gadgets.py", "import torch", "room 'gadgets' is in no layer"),
        ("evaluation/report.py", "from ganforge.viz.images import save_png\nfrom ganforge.callbacks import SamplePreview", None),
    ],
)
def test_the_checker_reports_each_kind_of_wrong_import(tmp_path, file, source, expected):
    path = tmp_path / "ganforge" / file
    path.parent.mkdir(parents=True)
    path.write_text(source + "\n")
    found = violations(tmp_path / "ganforge")
    assert (found == []) if expected is None else (len(found) == 1 and expected in found[0]), found

