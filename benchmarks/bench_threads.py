"""Thread settings under contention: train.py's own path (`sngan_cgan` by default) with each CPU thread setting, on an
idle machine and beside a second CPU-bound process, to choose the defaults that hold up on a laptop that is never idle.

    python benchmarks/bench_threads.py [--model sngan_cgan] [--steps 30] [--repeats 2]

Each setting runs in a fresh child process (OpenMP reads its environment once, at start-up), with the busy
competitor on and off in turn. The table gives images/s and the slowdown the competitor causes; the share of CPU
it takes is one core of two, so a slowdown near 2x is the fair price and anything well above it is thread waste.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

from bench_train import MODELS, ROOT, busy_competitor, write_report

# (name, environment, train.py overrides)
SETTINGS: list[tuple[str, dict[str, str], list[str]]] = [
    ("the default: adaptive threads", {"OMP_WAIT_POLICY": ""}, []),
    ("torch's threads, fixed", {"OMP_WAIT_POLICY": ""}, ["~callbacks.adaptive_threads"]),
    ("torch's threads, OMP_WAIT_POLICY=PASSIVE", {"OMP_WAIT_POLICY": "PASSIVE"}, ["~callbacks.adaptive_threads"]),
    ("torch_threads=1", {"OMP_WAIT_POLICY": ""}, ["torch_threads=1"]),
]


def child_images_per_second(model: str, environment: dict[str, str], overrides: list[str], steps: int) -> float:
    """Images/s of `steps` batches of train.py's path in a fresh process with `environment`."""
    env = {**os.environ, **environment}
    env = {key: value for key, value in env.items() if value != ""}  # "" unsets
    code = ("import sys; sys.path.insert(0, 'benchmarks'); from pathlib import Path; import tempfile;"
            "from ganforge.config import register_resolvers; register_resolvers();"
            "from bench_train import ganforge_seconds, MODELS;"
            f"s, b = ganforge_seconds(MODELS[{model!r}] + {overrides!r}, {steps}, Path(tempfile.mkdtemp()));"
            f"print({steps} * b / s)")
    result = subprocess.run([sys.executable, "-c", code], env=env | {"PROJECT_ROOT": str(ROOT)}, cwd=ROOT,
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sngan_cgan", choices=sorted(MODELS))
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    rows = {}
    for name, environment, overrides in SETTINGS:
        idle, busy = [], []
        for _ in range(args.repeats):
            idle.append(child_images_per_second(args.model, environment, overrides, args.steps))
            with busy_competitor():
                busy.append(child_images_per_second(args.model, environment, overrides, args.steps))
        rows[name] = {"idle": statistics.median(idle), "busy": statistics.median(busy)}
        rows[name]["slowdown"] = rows[name]["idle"] / rows[name]["busy"]
        print(f"{args.model} {name:34s} idle {rows[name]['idle']:6.0f} img/s  busy core {rows[name]['busy']:6.0f} img/s"
              f"  slowdown {rows[name]['slowdown']:.2f}x", flush=True)
    write_report(args.out, "threads", {"model": args.model, "steps": args.steps, "repeats": args.repeats,
                                       "settings": rows})


if __name__ == "__main__":
    main()
