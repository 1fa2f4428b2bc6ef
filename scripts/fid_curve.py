"""Domain FID against training minutes: every epoch checkpoint of one or more training runs measured with the
project's own `evaluate.py metrics=domain`, drawn as one curve per run.

    python scripts/fid_curve.py best=logs/train/runs/A cgan=logs/train/runs/B --out docs/fid_vs_minutes.png

Each run needs its epoch checkpoints (`callbacks.model_checkpoint.every_n_epochs=1`); its last.ckpt is the final
point when it holds more training than the newest of them. An evaluation already in
`<run>/curve/<checkpoint>/metrics.json` is reused. The x axis is the training's own wall clock, recorded in every
checkpoint; where runs shared the CPU with other work, `--images-per-second NAME=RATE` puts a run on the clock
of its exclusive throughput instead (images seen / rate), and the table says which clock each run is on.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import torch

from ganforge.models.base import LOOP_STATE_KEY

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("run", "checkpoint", "epoch", "images", "minutes", "clock", "fid", "fid_floor", "precision", "recall",
           "label_accuracy", "weights")


def evaluate(checkpoint: Path, out: Path, n_samples: int) -> dict:
    """metrics.json of `evaluate.py metrics=domain analyses=none` on `checkpoint`, run once and kept in `out`."""
    if not (out / "metrics.json").exists():
        command = [sys.executable, str(ROOT / "evaluate.py"), f"ckpt={checkpoint}", "metrics=domain", "analyses=none",
                   f"n_samples={n_samples}", "tensorboard=false", f"hydra.run.dir={out}"]
        subprocess.run(command, check=True, cwd=ROOT)
    return json.loads((out / "metrics.json").read_text())


def point(name: str, checkpoint: Path, n_samples: int, images_per_second: float | None) -> dict:
    """One row of the curve: what the checkpoint records of its training, and its domain metrics."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    loop = saved.get(LOOP_STATE_KEY, {})
    images = loop.get("discriminator_steps", 0) * saved["ganforge"]["data"]["batch_size"]
    measured = evaluate(checkpoint, checkpoint.parent.parent / "curve" / checkpoint.stem, n_samples)
    domain = measured["metrics"].get("domain", {})
    seconds = images / images_per_second if images_per_second else loop.get("training_seconds", float("nan"))
    return {
        "run": name, "checkpoint": str(checkpoint), "epoch": saved.get("epoch"), "images": images,
        "minutes": seconds / 60, "clock": f"{images_per_second:g} img/s" if images_per_second else "recorded",
        "fid": domain.get("fid"), "fid_floor": domain.get("fid_floor"), "precision": domain.get("precision"),
        "recall": domain.get("recall"),
        "label_accuracy": domain.get("label_accuracy"), "weights": measured.get("sampling_weights"),
    }


def curve_checkpoints(run_dir: Path) -> list[Path]:
    """A run's epoch checkpoints in order, then last.ckpt if the run trained on after the newest of them (a run
    that `trainer.max_time` stopped in the middle of an epoch, or between checkpointed epochs)."""
    checkpoints = sorted(Path(run_dir, "checkpoints").glob("epoch_*.ckpt"))
    last = Path(run_dir, "checkpoints", "last.ckpt")
    if last.exists() and (not checkpoints or discriminator_steps(last) > discriminator_steps(checkpoints[-1])):
        checkpoints.append(last)
    return checkpoints


def discriminator_steps(checkpoint: Path) -> int:
    """How many D steps (batches) the checkpoint's training had taken."""
    return torch.load(checkpoint, map_location="cpu", weights_only=True).get(LOOP_STATE_KEY, {}).get("discriminator_steps", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="NAME=RUN_DIR, one per curve")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "fid_vs_minutes.png")
    parser.add_argument("--n-samples", type=int, default=10000)
    parser.add_argument("--images-per-second", nargs="*", default=[], help="NAME=RATE: exclusive throughput of a run")
    args = parser.parse_args()
    rates = {name: float(rate) for name, rate in (item.split("=", 1) for item in args.images_per_second)}
    rows = []
    for item in args.runs:
        name, run_dir = item.split("=", 1)
        for checkpoint in curve_checkpoints(Path(run_dir)):
            rows.append(point(name, checkpoint, args.n_samples, rates.get(name)))
            print(" ".join(f"{key}={rows[-1][key]}" for key in ("run", "epoch", "minutes", "fid", "recall")), flush=True)

    with open(args.out.with_suffix(".csv"), "w", newline="") as table:
        writer = csv.DictWriter(table, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    draw(rows, args.out)


def draw(rows: list[dict], out: Path) -> None:
    """FID (log scale) against minutes, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name in dict.fromkeys(row["run"] for row in rows):
        mine = [row for row in rows if row["run"] == name]
        axes.plot([row["minutes"] for row in mine], [row["fid"] for row in mine], marker="o", label=name)
    axes.set(xlabel="training minutes (2 CPU cores)", ylabel="domain FID (lower is better)", yscale="log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=120)


if __name__ == "__main__":
    main()
