"""A folder of small synthetic colour pictures to try `data=folder` on: outdoor scenes of four kinds.

    python scripts/make_scenes.py data/scenes                 # 4 class folders (house, tree, balloon, boat), 500 each
    python scripts/make_scenes.py data/scenes-flat --unlabelled --per-class 250

Each picture has a sky (a vertical gradient), ground or water below a jittered horizon, and one object of its
class, drawn with random colours, sizes and places at a random resolution of 40-96 pixels, saved as PNG or JPEG.
Classes differ in shape and colour, and every picture has an up and a down (sky above, ground below), so both a
classifier of the classes and one of quarter turns have something to learn.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("house", "tree", "balloon", "boat")


def jitter(rng: np.random.Generator, colour: tuple[int, int, int], amount: int = 25) -> tuple[int, ...]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)


def backdrop(rng: np.random.Generator, size: int, horizon: int, water: bool) -> Image.Image:
    """Sky fading towards the horizon, then ground (or water) darkening towards the bottom."""
    top = np.array(jitter(rng, (70, 120, 210), 30), dtype=float)
    low = np.array(jitter(rng, (190, 215, 240), 20), dtype=float)
    ground = np.array(jitter(rng, (40, 90, 170) if water else (70, 140, 60), 25), dtype=float)
    rows = np.empty((size, 3))
    t = np.linspace(0, 1, horizon)[:, None]
    rows[:horizon] = (1 - t) * top + t * low
    t = np.linspace(0, 1, size - horizon)[:, None]
    rows[horizon:] = (1 - 0.5 * t) * ground
    pixels = np.repeat(rows[:, None, :], size, axis=1)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def draw_scene(kind: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One picture of `kind` (one of CLASSES), `size`×`size` pixels."""
    horizon = int(size * rng.uniform(0.55, 0.75))
    picture = backdrop(rng, size, horizon, water=kind == "boat")
    draw = ImageDraw.Draw(picture)
    s = size * rng.uniform(0.28, 0.42)  # the object's scale
    x = size * rng.uniform(0.3, 0.7)
    base = horizon + size * rng.uniform(0.02, 0.12)
    if kind == "house":
        wall = jitter(rng, (225, 205, 160), 30)
        draw.rectangle([x - s / 2, base - s * 0.8, x + s / 2, base], fill=wall)
        draw.polygon([(x - s * 0.65, base - s * 0.8), (x + s * 0.65, base - s * 0.8), (x, base - s * 1.45)],
                     fill=jitter(rng, (170, 50, 40), 30))
        draw.rectangle([x - s * 0.1, base - s * 0.4, x + s * 0.1, base], fill=jitter(rng, (90, 55, 30), 20))
    elif kind == "tree":
        draw.rectangle([x - s * 0.08, base - s * 0.7, x + s * 0.08, base], fill=jitter(rng, (100, 65, 35), 20))
        crown = jitter(rng, (35, 120, 40), 30)
        draw.ellipse([x - s * 0.45, base - s * 1.5, x + s * 0.45, base - s * 0.55], fill=crown)
    elif kind == "balloon":
        y = horizon * rng.uniform(0.3, 0.6)
        colour = tuple(int(c) for c in rng.choice([(220, 40, 50), (240, 200, 40), (150, 60, 200), (240, 120, 30)]))
        draw.line([(x, y + s * 0.35), (x + s * 0.05, y + s * 1.0)], fill=(60, 60, 60), width=max(1, size // 48))
        draw.ellipse([x - s * 0.3, y - s * 0.4, x + s * 0.3, y + s * 0.35], fill=jitter(rng, colour, 15))
    elif kind == "boat":
        hull = jitter(rng, (120, 70, 40), 25)
        draw.polygon([(x - s * 0.6, horizon + s * 0.05), (x + s * 0.6, horizon + s * 0.05),
                      (x + s * 0.4, horizon + s * 0.3), (x - s * 0.4, horizon + s * 0.3)], fill=hull)
        sail = jitter(rng, (245, 245, 235), 10)
        draw.polygon([(x, horizon - s * 1.0), (x, horizon), (x + s * 0.5, horizon)], fill=sail)
    else:
        raise ValueError(f"unknown kind {kind!r}; choose one of {CLASSES}")
    return picture


def make_scenes(folder: Path, per_class: int = 500, labelled: bool = True, seed: int = 0,
                classes: tuple[str, ...] = CLASSES) -> Path:
    """Write `per_class` pictures of each class into `folder` (one subfolder per class when `labelled`)."""
    rng = np.random.default_rng(seed)
    for kind in classes:
        target = folder / kind if labelled else folder
        target.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            picture = draw_scene(kind, int(rng.integers(40, 97)), rng)
            if i % 4 == 3:
                picture.save(target / f"{kind}_{i:04d}.jpg", quality=92)
            else:
                picture.save(target / f"{kind}_{i:04d}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--unlabelled", action="store_true", help="all pictures in one folder, no class subfolders")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    make_scenes(args.folder, args.per_class, not args.unlabelled, args.seed)
    print(f"wrote {args.per_class * len(CLASSES)} pictures to {args.folder}")


if __name__ == "__main__":
    main()
