"""An ablation table from one `train.py -m` sweep: every job's last checkpoint measured with the project's own
`evaluate.py metrics=domain`, grouped by the sweep's `ablation=` choice, mean ± std over the seeds.

    python train.py -m experiment=best_fashion ablation=recipe,no_ema,r1 seed=1,2,3 trainer.max_time=00:00:03:00
    python scripts/ablation.py logs/train/multiruns/<time> --out docs/ablation.csv

The sweep's summary.yaml names each job's overrides and folder. An evaluation already in
`<job>/curve/last/metrics.json` is reused; the CSV holds one row per job, the printed Markdown table one per choice.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

import yaml

from fid_curve import point

COLUMNS = ("ablation", "seed", "job", "images", "minutes", "fid", "fid_floor", "precision", "recall", "label_accuracy",
           "weights")
# The table's columns: a job row's measure, scaled, with its number format
MEASURES = (("images", 1e-6, ".2f"), ("fid_over_floor", 1.0, ".1f"), ("precision", 1.0, ".3f"), ("recall", 1.0, ".3f"),
            ("label_accuracy", 1.0, ".3f"))


def override(overrides: list[str], key: str, default: str = "") -> str:
    """The value a job's command line gave `key` (e.g. ablation, seed)."""
    values = [item.split("=", 1)[1] for item in overrides if item.lstrip("+").split("=", 1)[0] == key]
    return values[-1] if values else default


def job_row(job: dict, n_samples: int) -> dict:
    """One job: where its training got to in the budget, and the domain metrics of its last checkpoint."""
    overrides = job["overrides"]
    measured = point(override(overrides, "ablation", "recipe"), Path(job["dir"]) / "checkpoints" / "last.ckpt",
                     n_samples, images_per_second=None)
    return {"ablation": measured["run"], "seed": override(overrides, "seed"), "job": job["job"]} | measured


def mean_std(values: list[float | None], scale: float = 1.0, spec: str = ".3f") -> str:
    """'mean ± std' of the scaled values (std over the seeds; a single run has none); '—' where one is missing."""
    if any(value is None for value in values):
        return "—"
    scaled = [value * scale for value in values]
    mean = format(statistics.fmean(scaled), spec)
    return f"{mean} ± {format(statistics.stdev(scaled), spec)}" if len(scaled) > 1 else mean


def table(rows: list[dict]) -> str:
    """Markdown: one line per ablation choice, in the sweep's order, mean ± std over its seeds."""
    lines = ["| ablation | seeds | images seen (M) | FID / floor | precision | recall | label acc. |",
             "|---|---|---|---|---|---|---|"]
    for choice in dict.fromkeys(row["ablation"] for row in rows):
        mine = [row | {"fid_over_floor": row["fid"] / row["fid_floor"]} for row in rows if row["ablation"] == choice]
        cells = [mean_std([row[measure] for row in mine], scale, spec) for measure, scale, spec in MEASURES]
        lines.append(f"| {choice} | {len(mine)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="the sweep's folder, logs/train/multiruns/<time>")
    parser.add_argument("--out", type=Path, help="a CSV with one row per job")
    parser.add_argument("--n-samples", type=int, default=10000)
    args = parser.parse_args()
    summary = args.sweep / "summary.yaml"
    if not summary.is_file():
        sys.exit(f"error: {summary} does not exist; give the folder of a train.py -m sweep "
                 "(logs/train/multiruns/<time>)")
    jobs = sorted(yaml.safe_load(summary.read_text())["jobs"], key=lambda job: job["job"])
    for job in jobs:
        if job["status"] != "completed":
            print(f"left out: job {job['job']} ({' '.join(job['overrides'])}) failed: {job.get('error')}",
                  file=sys.stderr)
    rows = [job_row(job, args.n_samples) for job in jobs if job["status"] == "completed"]
    if args.out:
        with open(args.out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    print(table(rows))


if __name__ == "__main__":
    main()
