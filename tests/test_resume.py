"""Nothing lost: last.ckpt is always the latest, a stopped run saves and resumes exactly, a crash mid-save
leaves the previous checkpoint whole, and a diverged run stops with one line."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import data_overrides, path_overrides, run_entry, start_entry, wait_for
from ganforge.checkpoint import read_checkpoint
from ganforge.training import train

# Small nets: 4 batches of 16 synthetic images per epoch.
SMALL = {
    "gan": ["model.generator.channels=8", "model.discriminator.channels=8", "model.ema.start_step=2"],
    "wgan_gp": ["model.generator.channels=[32,16]", "model.discriminator.channels=[8,16]"],
    "mlp_gan": ["model.generator.hidden_dims=[16]", "model.discriminator.hidden_dims=[16]"],
}


def short_run(idx_root: Path, model: str, *extra: str) -> list[str]:
    return [f"model={model}", "data=mnist", *data_overrides(idx_root), "data.subset=64", "data.batch_size=16",
            *SMALL[model], *extra]


def generator_state(checkpoint: Path) -> dict[str, torch.Tensor]:
    """G's weights and, where the model keeps one, its EMA: what samples are drawn from."""
    state = read_checkpoint(checkpoint)["state_dict"]
    return {name: value for name, value in state.items() if name.startswith(("generator.", "ema."))}


@pytest.mark.parametrize("model", ["gan", "wgan_gp"])  # wgan_gp: n_critic 5, the phase crosses epochs
def test_resuming_after_an_epoch_gives_the_weights_of_a_straight_run(compose_config, idx_root, tmp_path, model):
    def run(name: str, *extra: str) -> Path:
        cfg = compose_config(short_run(idx_root, model, "logger=csv", *extra))
        cfg.paths.output_dir = str(tmp_path / name)
        train(cfg)
        return tmp_path / name / "checkpoints" / "last.ckpt"

    straight = generator_state(run("straight", "trainer.max_epochs=2"))
    first = run("first", "trainer.max_epochs=1")
    resumed = generator_state(run("resumed", "trainer.max_epochs=2", f"ckpt_path={first}"))
    assert straight.keys() == resumed.keys() and any(name.startswith("ema.") for name in straight) == (model == "gan")
    once = generator_state(first)
    assert any(not torch.equal(once[name], straight[name]) for name in straight)  # epoch 2 did change G
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name


def test_last_checkpoint_is_the_latest_epoch(compose_config, idx_root, tmp_path):
    train(compose_config(short_run(idx_root, "gan", "trainer.max_epochs=7")))
    checkpoints = tmp_path / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["epoch_004.ckpt", "last.ckpt"]
    last = read_checkpoint(checkpoints / "last.ckpt")
    assert last["epoch"] == 6 and last["global_step"] == 7 * (4 + 4)  # 4 batches, a D and a G step each


def test_resume_auto_continues_the_latest_run_of_the_same_config(tmp_path, idx_root):
    common = [*short_run(idx_root, "gan"), *path_overrides(tmp_path), "resume=auto"]
    for epochs in (1, 2):
        result = run_entry("train.py", *common, f"trainer.max_epochs={epochs}")
        assert result.returncode == 0, result.stderr[-2000:]
    other = run_entry("train.py", *common, "trainer.max_epochs=1", "seed=7")  # another config: a run of its own
    assert other.returncode == 0, other.stderr[-2000:]
    runs = sorted((tmp_path / "logs" / "train" / "runs").iterdir())
    assert len(runs) == 2
    first = next(run for run in runs if (run / "samples" / "epoch_001.png").exists())
    assert read_checkpoint(first / "checkpoints" / "last.ckpt")["global_step"] == 2 * 8
    assert len(list((first / "tensorboard").glob("events.out.tfevents.*"))) == 2  # both sessions in one place


def start_training(tmp_path: Path, idx_root: Path) -> subprocess.Popen:
    """A long run on the synthetic data (1000 epochs of 4 batches), started as a user would; stderr to a file
    (a full pipe would block the run)."""
    return start_entry("train.py", *short_run(idx_root, "gan"), *path_overrides(tmp_path), "trainer.max_epochs=1000",
                       "callbacks.sample_preview.gif=false", "callbacks.sample_preview.every_n_epochs=1000", base=tmp_path)


@pytest.mark.parametrize("stop, exit_code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 1)])
def test_sigterm_and_ctrl_c_save_a_checkpoint_and_exit_non_zero(tmp_path, idx_root, stop, exit_code):
    process = start_training(tmp_path, idx_root)
    try:
        last = wait_for("logs/train/runs/*/checkpoints/last.ckpt", tmp_path, process)
        saved_at = read_checkpoint(last)["global_step"]
        time.sleep(1.0)  # a few more batches
        process.send_signal(stop)
        process.wait(timeout=120)
    finally:
        process.kill()  # never leave a 1000-epoch run behind
    stderr = (tmp_path / "stderr.txt").read_text()
    assert process.returncode == exit_code, stderr[-2000:]
    stopped = read_checkpoint(last)
    assert stopped["global_step"] > saved_at and stopped["global_step"] % 2 == 0  # whole batches: D and G stepped
    assert "Traceback" not in stderr


def test_a_run_killed_while_saving_leaves_the_previous_checkpoint_whole(tmp_path):
    target = tmp_path / "last.ckpt"
    torch.save({"generation": -1, "weights": torch.zeros(3)}, target)
    # A child process saves 100 MB checkpoints over `target` in a loop; SIGKILL lands in the middle of one.
    script = (
        "import sys, torch\n"
        "from ganforge.callbacks import AtomicCheckpointIO\n"
        "io = AtomicCheckpointIO()\n"
        "for generation in range(1000):\n"
        "    io.save_checkpoint({'generation': generation, 'weights': torch.full((25_000_000,), float(generation))}, sys.argv[1])\n"
        "    print(generation, flush=True)\n"
    )
    for delay in (0.3, 0.7, 1.1):
        child = subprocess.Popen([sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, text=True)
        time.sleep(delay)
        child.kill()
        child.wait()
        loaded = torch.load(target, weights_only=True)  # never truncated
        generation = loaded["generation"]
        assert torch.all(loaded["weights"] == float(generation)) or generation == -1
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "last.ckpt"]
    assert all(name.startswith(".last.ckpt.") and name.endswith(".tmp") for name in leftovers)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The error lines of a run that stopped while training (Lightning's start-up lines come before them)."""
    assert "Traceback" not in result.stdout + result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("error")]


def test_a_non_finite_loss_stops_the_run_with_one_line(tmp_path, idx_root):
    # Weights of size 1e30 (no spectral norm to tame them): D's logits overflow at once.
    result = run_entry("train.py", *short_run(idx_root, "mlp_gan"), *path_overrides(tmp_path), "model.init_std=1e30",
                       "trainer.max_epochs=3", "callbacks.divergence_guard.check_every_n_steps=1")
    assert result.returncode == 2
    errors = error_lines(result)
    assert len(errors) == 1 and errors[0].startswith("error: training diverged: loss_d was not finite at step 1"), errors
    assert not list(tmp_path.glob("logs/train/runs/*/checkpoints/*.ckpt"))  # nothing diverged was saved


def test_a_collapsed_generator_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, idx_root):
    # A threshold no generator meets, probed first at batch 6 (epoch 2 of 4-batch epochs): epoch 1 is saved.
    result = run_entry("train.py", *short_run(idx_root, "gan"), *path_overrides(tmp_path), "trainer.max_epochs=3",
                       "callbacks.divergence_guard.min_sample_std=100", "callbacks.divergence_guard.probe_every_n_steps=6")
    assert result.returncode == 2
    errors = error_lines(result)
    assert len(errors) == 1 and "the generator collapsed at step 6" in errors[0], errors
    (last,) = tmp_path.glob("logs/train/runs/*/checkpoints/last.ckpt")
    assert read_checkpoint(last)["epoch"] == 0 and read_checkpoint(last)["global_step"] == 8
