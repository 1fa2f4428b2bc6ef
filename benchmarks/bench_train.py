"""Training speed of the real `train.py` path against plain PyTorch loops of the same nets (and Keras for DCGAN).

    python benchmarks/bench_train.py [--models mlp_gan,gan,cgan,sngan_cgan,dcgan,dcgan_slim,wgan_gp] [--steps 20]
                                     [--repeats 3] [--pairs 60] [--no-keras] [--no-contention] [--out benchmarks/results]

For each model, in one process and interleaved (so a busy machine slows all alike), `--repeats` times:
- ganforge: `ganforge.training.train` on the composed config, exactly as `train.py` runs it (Fashion-MNIST,
  the default callbacks and TensorBoard logger), timed from the end of the warm-up batches and the first
  thread probe of the adaptive-threads callback to `--steps` batches later;
- course: a plain PyTorch loop as the course writes one — the same nets and optimizer settings, fp32, one G forward
  reused by the D and G steps, the config's losses and penalties — on the same data held as a float tensor;
- bare: the same plain loop with ganforge's speed settings (bf16 autocast where chosen, channels_last, freed
  memory kept): the same maths without Lightning; the price of Lightning and the module's bookkeeping ("Lightning
  overhead") is measured apart, batch by batch: `--pairs` batches of train.py's path, each followed by one of the
  bare loop, the median ratio of the pairs (`AlternatingBareLoop`);
- keras (dcgan): the course's Keras DCGAN, one `@tf.function` step, on the same images, in a child process of its
  own (needs `.[bench]`).
Medians in images/s and their ratios are printed and written to `<out>/<machine>.json`. A contention run repeats
ganforge and course with a second CPU-bound process busy. Peak RSS of each path comes from a child process.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from ganforge.config import best_precision, register_resolvers
from ganforge.losses import GradientPenalty, gradient_penalty
from ganforge.models import GAN
from ganforge.nets.spectral_norm import one_sigma_per_step
from ganforge.runtime import keep_freed_memory
from ganforge.training import train

ROOT = Path(__file__).resolve().parents[1]
WARMUP_BATCHES = 3

# Each model as a user trains it (the course's batch sizes where the course sets them).
MODELS: dict[str, list[str]] = {
    "mlp_gan": ["model=mlp_gan", "data.batch_size=128"],
    "gan": ["model=gan", "data.batch_size=64"],
    "cgan": ["model=cgan", "data.batch_size=128"],  # the default, and experiment=best_fashion's model
    "sngan_cgan": ["model=sngan_cgan", "data.batch_size=64"],
    "dcgan": ["model=dcgan", "data.batch_size=256"],
    "dcgan_slim": ["model=dcgan", "data.batch_size=256", "model.generator.channels=[128,64,32]",
                   "model.discriminator.channels=[32,64]"],
    "wgan_gp": ["model=wgan_gp", "data.batch_size=64"],
}


def compose_train_config(overrides: list[str], output_dir: Path) -> DictConfig:
    """`conf/train.yaml` with `overrides`, composed as train.py composes it, writing into `output_dir`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
        cfg.paths.output_dir = str(output_dir)
    return cfg


class BatchTimer(L.Callback):
    """Writes to `output` the seconds from the end of batch `start` to the end of batch `start + count`."""

    def __init__(self, start: int, count: int, output: str) -> None:
        self.start, self.count, self.output = start, count, Path(output)
        self.began = 0.0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx + 1 == self.start:
            self.began = time.perf_counter()
        elif batch_idx + 1 == self.start + self.count:
            self.output.write_text(str(time.perf_counter() - self.began))


def timed_run(overrides: list[str], workdir: Path) -> tuple[DictConfig, Path, int]:
    """A one-epoch train.py config in a run folder of its own, and the batches to train before timing starts."""
    run = Path(tempfile.mkdtemp(dir=workdir))
    cfg = compose_train_config([*overrides, "trainer.max_epochs=1", "callbacks.sample_preview.gif=false"], run)
    return cfg, run, WARMUP_BATCHES + first_thread_probe(cfg)


def ganforge_seconds(overrides: list[str], steps: int, workdir: Path) -> tuple[float, int]:
    """Seconds for `steps` batches of train.py's own path, and the batch size."""
    cfg, run, warmup = timed_run(overrides, workdir)
    with open_dict(cfg):  # imported by name: this file's folder is on sys.path when it runs as a script
        cfg.trainer.limit_train_batches = warmup + steps
        cfg.callbacks.batch_timer = {"_target_": "bench_train.BatchTimer", "start": warmup, "count": steps,
                                     "output": str(run / "seconds")}
    train(cfg)
    return float((run / "seconds").read_text()), cfg.data.batch_size


class AlternatingBareLoop(L.Callback):
    """After every batch of train.py's path, one batch of the bare loop: pairs of batch times taken moments apart.

    A shared machine's speed drifts by ±10% over seconds (the windows of `ganforge_seconds` and `PlainLoop.seconds`
    lie up to a minute apart); within a pair it slows both alike, so the median ratio of the pairs measures the
    price of Lightning and the module's bookkeeping to a percent. A train.py batch is timed from the end of the
    previous pair's bare batch to its own end: every hook of the cycle is counted once.
    """

    def __init__(self, bare: PlainLoop, skip: int) -> None:
        self.bare, self.skip = bare, skip
        self.pairs: list[tuple[float, float]] = []
        self.resumed: float | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        ended = time.perf_counter()
        self.bare.step()
        bare_ended = time.perf_counter()
        if self.resumed is not None and batch_idx >= self.skip:
            self.pairs.append((ended - self.resumed, bare_ended - ended))
        self.resumed = time.perf_counter()


ALTERNATING: AlternatingBareLoop | None = None  # the one `paired_overhead` hands to train() by this name


def alternating_bare_loop() -> AlternatingBareLoop | None:
    return ALTERNATING


def paired_overhead(overrides: list[str], bare: PlainLoop, pairs: int, workdir: Path) -> float:
    """The median over `pairs` alternating batches of (train.py's batch time / the bare loop's) − 1."""
    global ALTERNATING
    cfg, _, warmup = timed_run(overrides, workdir)
    ALTERNATING = AlternatingBareLoop(bare, skip=warmup + 1)
    with open_dict(cfg):  # train() builds its callbacks from the config: this one hands over the object above
        cfg.trainer.limit_train_batches = warmup + pairs + 1
        cfg.callbacks.alternating = {"_target_": f"{__name__}.alternating_bare_loop"}  # this module, run or imported
    train(cfg)
    return statistics.median(ours / theirs for ours, theirs in ALTERNATING.pairs) - 1.0


def first_thread_probe(cfg: DictConfig) -> int:
    """Batches until the adaptive-threads callback has made its first choice (0 without it): timed after them, as
    a run spends its time (the probe returns every few hundred batches, a share of a percent of them)."""
    probe = cfg.get("callbacks", {}).get("adaptive_threads")
    return 0 if probe is None else instantiate(probe).first_choice_batch


class PlainLoop:
    """The course's way: nets and optimizers from the same config, one G forward per batch reused by both steps.

    `tuned` adds ganforge's speed settings (bf16 autocast where the config chose it, channels_last, freed memory
    kept in the process, one spectral-norm estimate per step) and nothing else, so it is the same maths as
    ganforge's path without Lightning.
    """

    def __init__(self, cfg: DictConfig, images: torch.Tensor, labels: torch.Tensor, tuned: bool) -> None:
        gan: GAN = instantiate(cfg.model)
        self.generator, self.discriminator, self.objective = gan.generator, gan.discriminator, gan.objective
        self.augment, self.ema, self.n_critic = gan.augment, gan.ema, gan.n_critic
        self.penalty = next((term.weight for term in gan.regularisers.values() if isinstance(term, GradientPenalty)), 0.0)
        self.opt_d, self.opt_g = gan.optimizer_d(self.discriminator.parameters()), gan.optimizer_g(self.generator.parameters())
        self.keep_memory = tuned and cfg.keep_freed_memory
        self.bf16 = tuned and str(cfg.trainer.precision).startswith("bf16")
        self.channels_last = tuned and gan.channels_last
        # ganforge's module estimates each spectral norm once per D and once per G step; the course's loop, per pass
        self.one_step = one_sigma_per_step if tuned else nullcontext
        if self.channels_last:
            self.generator.to(memory_format=torch.channels_last)
            self.discriminator.to(memory_format=torch.channels_last)
        self.images, self.labels = images, labels  # model space, float, as the course keeps its dataset
        self.batch_size, self.steps_done = cfg.data.batch_size, 0

    def critic(self, x: torch.Tensor, labels: torch.Tensor):
        return self.discriminator(x if self.augment is None else self.augment(x), labels)

    def step(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One batch; returns D's loss and G's (None when G did not step), detached."""
        pick = torch.randint(len(self.images), (self.batch_size,))
        real, labels = self.images[pick], self.labels[pick]
        if self.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        generator_turn = self.steps_done % self.n_critic == 0
        self.steps_done += 1
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            with torch.set_grad_enabled(generator_turn):
                fake = self.generator(torch.randn(self.batch_size, self.generator.latent_dim), labels)
            with self.one_step():
                loss_d = self.objective.discriminator_loss(self.critic(real, labels).logits,
                                                           self.critic(fake.detach(), labels).logits)
                if self.penalty:
                    loss_d = loss_d + self.penalty * gradient_penalty(self.critic, real, fake, labels)
                self.opt_d.zero_grad()
                loss_d.backward()
                self.opt_d.step()
            if generator_turn:
                self.discriminator.requires_grad_(False)
                with self.one_step():
                    loss_g = self.objective.generator_loss(self.critic(fake, labels).logits)
                    self.opt_g.zero_grad()
                    loss_g.backward()
                    self.opt_g.step()
                self.discriminator.requires_grad_(True)
                if self.ema is not None:
                    self.ema.update(self.generator, self.steps_done)
        return loss_d.detach(), loss_g.detach() if generator_turn else None

    def seconds(self, steps: int) -> float:
        keep_freed_memory(self.keep_memory)  # process-wide: set for each path as it is timed
        for _ in range(WARMUP_BATCHES):
            self.step()
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        return time.perf_counter() - start


def fashion_in_model_space(cfg: DictConfig) -> tuple[torch.Tensor, torch.Tensor]:
    datamodule = instantiate(cfg.data)
    images, labels = datamodule.load("train")
    return datamodule.to_model_space(images), labels


def keras_dcgan_step(batch_size: int, images) -> Callable[[], None]:
    """The course's Keras DCGAN (the TensorFlow tutorial's nets, Adam 1e-4, BCE), one compiled step per call."""
    import tensorflow as tf

    import keras  # Keras 3, on the TensorFlow backend (tf.keras is only a lazy alias of it)
    generator = keras.Sequential([
        keras.Input((100,)), keras.layers.Dense(7 * 7 * 256, use_bias=False), keras.layers.BatchNormalization(),
        keras.layers.LeakyReLU(), keras.layers.Reshape((7, 7, 256)),
        keras.layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False), keras.layers.BatchNormalization(),
        keras.layers.LeakyReLU(),
        keras.layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False), keras.layers.BatchNormalization(),
        keras.layers.LeakyReLU(),
        keras.layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
    ])
    discriminator = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Conv2D(64, 5, strides=2, padding="same"), keras.layers.LeakyReLU(),
        keras.layers.Dropout(0.3), keras.layers.Conv2D(128, 5, strides=2, padding="same"), keras.layers.LeakyReLU(),
        keras.layers.Dropout(0.3), keras.layers.Flatten(), keras.layers.Dense(1),
    ])
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
    g_opt, d_opt = keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4)
    data = tf.constant(images)

    @tf.function
    def train_step():
        real = tf.gather(data, tf.random.uniform((batch_size,), 0, data.shape[0], dtype=tf.int32))
        noise = tf.random.normal([batch_size, 100])
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(noise, training=True)
            real_out, fake_out = discriminator(real, training=True), discriminator(fake, training=True)
            g_loss = cross_entropy(tf.ones_like(fake_out), fake_out)
            d_loss = cross_entropy(tf.ones_like(real_out), real_out) + cross_entropy(tf.zeros_like(fake_out), fake_out)
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, generator.trainable_variables), generator.trainable_variables))
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, discriminator.trainable_variables), discriminator.trainable_variables))

    return train_step


def keras_seconds(step: Callable[[], None], steps: int) -> float:
    for _ in range(WARMUP_BATCHES):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def child_keras_seconds(model: str, steps: int) -> float:
    """Seconds for `steps` batches of the Keras DCGAN in a process of its own, as a Keras user runs it: beside
    PyTorch's thread pool TensorFlow's ran 1.6x slower here (97 against 157 img/s)."""
    result = subprocess.run([sys.executable, __file__, "--keras-of", model, "--steps", str(steps)],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    return float(result.stdout.strip().splitlines()[-1])


def run_keras(model: str, steps: int) -> None:
    """(child) Time the Keras DCGAN on the model's data and batch size; print the seconds."""
    with tempfile.TemporaryDirectory() as workdir:
        cfg = compose_train_config(MODELS[model], Path(workdir))
    images, _ = fashion_in_model_space(cfg)
    print(keras_seconds(keras_dcgan_step(cfg.data.batch_size, images.permute(0, 2, 3, 1).numpy()), steps))


@contextmanager
def busy_competitor():
    """A second process keeping one CPU core busy for the duration."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield
    finally:
        process.kill()
        process.wait()


def child_peak_rss_mb(model: str, path: str, steps: int) -> float:
    """Peak resident memory of a child process running one path of `model` for `steps` batches."""
    result = subprocess.run([sys.executable, __file__, "--memory-of", model, path, "--steps", str(steps)],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    return float(result.stdout.strip().splitlines()[-1])


def run_one_path(model: str, path: str, steps: int) -> None:
    """(child) Run `path` of `model` for `steps` batches and print the peak RSS in MB."""
    with tempfile.TemporaryDirectory() as workdir:
        if path == "ganforge":
            ganforge_seconds(MODELS[model], steps, Path(workdir))
        else:
            cfg = compose_train_config(MODELS[model], Path(workdir))
            PlainLoop(cfg, *fashion_in_model_space(cfg), tuned=path == "bare").seconds(steps)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def machine_name() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "cpu")
    slug = "-".join(cpu.lower().replace("(r)", "").replace("(tm)", "").split())
    # CPUs of one model name differ in bf16 support (AVX-512 BF16 or not), and so does everything measured here
    bf16 = "-bf16" if best_precision().startswith("bf16") else ""
    return f"{slug}{bf16}-{torch.get_num_threads()}threads" + ("-" + torch.cuda.get_device_name(0).replace(" ", "-")
                                                               if torch.cuda.is_available() else "")


def write_report(out_dir: str, kind: str, report: dict[str, Any]) -> None:
    """`report` as `<out_dir>/<machine>-<kind>.json`, the file every benchmark but this one writes."""
    out = Path(out_dir) / f"{machine_name()}-{kind}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


def measure(models: list[str], steps: int, repeats: int, pairs: int, keras: bool, contention: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for model in models:
            cfg = compose_train_config(MODELS[model], Path(workdir))
            images, labels = fashion_in_model_space(cfg)
            course, bare = PlainLoop(cfg, images, labels, tuned=False), PlainLoop(cfg, images, labels, tuned=True)
            with_keras = keras and model == "dcgan"
            times: dict[str, list[float]] = {"ganforge": [], "course": [], "bare": []} | ({"keras": []} if with_keras else {})
            for _ in range(repeats):
                seconds, batch = ganforge_seconds(MODELS[model], steps, Path(workdir))
                times["ganforge"].append(steps * batch / seconds)
                times["course"].append(steps * batch / course.seconds(steps))
                times["bare"].append(steps * batch / bare.seconds(steps))
                if with_keras:
                    times["keras"].append(steps * batch / child_keras_seconds(model, steps))
            rates = {path: statistics.median(values) for path, values in times.items()}
            entry: dict[str, Any] = {"images_per_second": rates, "batch_size": batch, "precision": str(cfg.trainer.precision),
                                     "vs_course": rates["ganforge"] / rates["course"],
                                     "lightning_overhead": paired_overhead(MODELS[model], bare, pairs, Path(workdir)),
                                     "overhead_of_the_windows": rates["bare"] / rates["ganforge"] - 1.0}
            if "keras" in rates:
                entry["vs_keras"] = rates["ganforge"] / rates["keras"]
            if contention:
                with busy_competitor():
                    seconds, batch = ganforge_seconds(MODELS[model], steps, Path(workdir))
                    busy = {"ganforge": steps * batch / seconds, "course": steps * batch / course.seconds(steps)}
                entry["contention_slowdown"] = {path: rates[path] / busy[path] for path in busy}
            entry["peak_rss_mb"] = {path: child_peak_rss_mb(model, path, steps) for path in ("ganforge", "course")}
            results[model] = entry
            print(summary_line(model, entry), flush=True)
    return results


def summary_line(model: str, entry: dict[str, Any]) -> str:
    rates = entry["images_per_second"]
    line = (f"{model:10s} ganforge {rates['ganforge']:7.0f} img/s  course {rates['course']:7.0f}  bare {rates['bare']:7.0f}  "
            f"ganforge/course {entry['vs_course']:.2f}x  Lightning overhead {100 * entry['lightning_overhead']:+.1f}%")
    if "vs_keras" in entry:
        line += f"  keras {rates['keras']:.0f} img/s, ganforge/keras {entry['vs_keras']:.2f}x"
    if "contention_slowdown" in entry:
        slow = entry["contention_slowdown"]
        line += f"  busy core: ganforge {slow['ganforge']:.2f}x slower, course {slow['course']:.2f}x"
    return line + f"  peak RSS {entry['peak_rss_mb']['ganforge']:.0f} MB (course {entry['peak_rss_mb']['course']:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=60, help="alternating batches that measure the Lightning overhead")
    parser.add_argument("--no-keras", action="store_true")
    parser.add_argument("--no-contention", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--memory-of", nargs=2, metavar=("MODEL", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--keras-of", metavar="MODEL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import os

    os.environ.setdefault("PROJECT_ROOT", str(ROOT))
    register_resolvers()
    if args.memory_of:
        run_one_path(*args.memory_of, args.steps)
        return
    if args.keras_of:
        run_keras(args.keras_of, args.steps)
        return
    models = args.models.split(",")
    results = measure(models, args.steps, args.repeats, args.pairs, keras=not args.no_keras, contention=not args.no_contention)
    out = Path(args.out) / f"{machine_name()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    record = {"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "command": " ".join(sys.argv),
              "steps": args.steps, "repeats": args.repeats, "pairs": args.pairs, "models": previous.get("models", {}) | results}
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
