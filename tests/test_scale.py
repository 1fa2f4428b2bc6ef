"""Beyond one process: sweeps whose failed jobs do not stop the others (basic, joblib and Optuna), a summary of
every sweep, a ranking metric that must be logged, requeued jobs that continue their own run, and the SLURM
launcher's config."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import submitit
import yaml
from hydra import compose, initialize_config_dir
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import ROOT, data_overrides, path_overrides, run_entry, start_entry, wait_for
from ganforge.checkpoint import read_checkpoint

TINY = ["model=mlp_gan", "model.generator.hidden_dims=[16]", "model.discriminator.hidden_dims=[16]"]
# Weights of size 1e30: D's logits overflow at once, and the divergence guard stops the run at its first check.
DIVERGING = ["model.init_std=1e30", "callbacks.divergence_guard.check_every_n_steps=1"]


def short_run(idx_root: Path, *extra: str) -> list[str]:
    """4 batches of 16 synthetic images per epoch, tiny MLP nets."""
    return [*TINY, "data=mnist", *data_overrides(idx_root), "data.subset=64", "data.batch_size=16",
            "trainer.max_epochs=1", "callbacks.sample_preview.gif=false", *extra]


def summary_of(sweep: Path) -> dict:
    return yaml.safe_load((sweep / "summary.yaml").read_text())


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error")]


def events(run: Path) -> list[Path]:
    return list((run / "tensorboard").glob("events.out.tfevents.*"))


# ------------------------------------------------------------------------------------------------------
# A failed job is reported; the others go on


def test_basic_sweep_goes_on_after_a_job_with_a_bad_value(tmp_path, idx_root):
    result = run_entry("train.py", "-m", *short_run(idx_root), "model.n_critic=0,1", *path_overrides(tmp_path))
    assert result.returncode == 1  # the sweep ran every job, then says that one failed
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert read_checkpoint(sweep / "1" / "checkpoints" / "last.ckpt")["global_step"] == 8  # job 1 ran after job 0 failed
    summary = summary_of(sweep)
    assert summary["completed"] == 1 and summary["failed"] == [0]
    failed, completed = summary["jobs"]
    assert failed["status"] == "failed" and "model.n_critic=0" in failed["overrides"]
    assert failed["error"].startswith("model.n_critic must be at least 1")
    assert completed["status"] == "completed" and completed["dir"] == str(sweep / "1")
    (line,) = error_lines(result.stderr)  # one line, no traceback
    assert line.startswith("error: model.n_critic must be at least 1") and f"{sweep / 'summary.yaml'}" in line
    assert "Traceback" not in result.stderr
    assert "Job 0 failed: model.n_critic must be at least 1" in result.stdout  # the log line


def test_joblib_sweep_runs_two_jobs_at_once_and_reports_the_diverged_one(tmp_path, idx_root):
    result = run_entry(
        "train.py", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "torch_threads=1", *short_run(idx_root),
        "model.init_std=0.02,1e30", "callbacks.divergence_guard.check_every_n_steps=1", *path_overrides(tmp_path),
    )
    assert result.returncode == 1, result.stderr[-3000:]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert "Joblib.Parallel(n_jobs=2" in result.stdout
    summary = summary_of(sweep)
    assert summary["failed"] == [1] and summary["completed"] == 1
    assert summary["jobs"][1]["error"].startswith("training diverged: loss_d was not finite at step 1")
    assert read_checkpoint(sweep / "0" / "checkpoints" / "last.ckpt")["global_step"] == 8
    assert not list((sweep / "1").glob("checkpoints/*.ckpt"))  # nothing diverged was saved
    (line,) = error_lines(result.stderr)
    assert line.startswith("error: training diverged") and "(job 1;" in line


def test_optuna_study_counts_a_diverged_trial_as_failed_and_goes_on(tmp_path, idx_root):
    result = run_entry(
        "train.py", "hparams_search=gan_optuna", *short_run(idx_root), "model.init_std=choice(0.02,1e30)",
        "callbacks.divergence_guard.check_every_n_steps=1", "hydra.sweeper.n_trials=4",
        "hydra.sweeper.sampler.n_startup_trials=4", "callbacks.domain_fid.n_samples=64", *path_overrides(tmp_path),
    )
    assert result.returncode == 1, result.stderr[-3000:]  # the study ends, then says that trials failed
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    jobs = summary_of(sweep)["jobs"]
    assert len(jobs) == 4
    init_std = {job["job"]: float(next(o for o in job["overrides"] if o.startswith("model.init_std=")).split("=")[1])
                for job in jobs}
    diverging = {job for job, std in init_std.items() if std == 1e30}
    assert 0 < len(diverging) < 4  # the sampler drew both (seeded)
    assert {job["job"] for job in jobs if job["status"] == "failed"} == diverging
    assert all(job["error"].startswith("training diverged") for job in jobs if job["job"] in diverging)
    # The study ranks by val/fid_domain as the completed trials logged it.
    values = [job["value"] for job in jobs if job["status"] == "completed"]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_value"] == min(values) and results["best_params"]["model.init_std"] == 0.02
    assert error_lines(result.stderr) == [f"error: {len(diverging)} of 4 jobs failed "
                                          f"(jobs {', '.join(map(str, sorted(diverging)))}); why: {sweep / 'summary.yaml'}"]


def test_a_metric_no_callback_logs_is_a_config_error_before_anything_trains(tmp_path, idx_root):
    single = run_entry("train.py", *short_run(idx_root), "optimized_metric=val/fid_domain", *path_overrides(tmp_path))
    assert single.returncode == 2
    assert error_lines(single.stderr) == [
        "error: optimized_metric=val/fid_domain is logged by no callback of this run (they log: nothing to rank by); "
        "e.g. callbacks=domain_fid optimized_metric=val/fid_domain"]
    assert not list(tmp_path.glob("logs/train/runs/*/checkpoints")) and not list(tmp_path.glob("logs/**/events.*"))

    sweep = run_entry("train.py", "hparams_search=gan_optuna", "optimized_metric=val/fid", *short_run(idx_root),
                      *path_overrides(tmp_path))
    assert sweep.returncode == 2
    assert error_lines(sweep.stderr) == [
        "error: optimized_metric=val/fid is logged by no callback of this run (they log: val/fid_domain); "
        "e.g. callbacks=domain_fid optimized_metric=val/fid_domain"]
    assert not (tmp_path / "logs" / "train" / "multiruns").exists()  # no job started


# ------------------------------------------------------------------------------------------------------
# Requeued jobs continue their own run


def fake_scontrol(folder: Path) -> Path:
    """A stand-in for SLURM's `scontrol` (there is no cluster here): it records its arguments."""
    folder.mkdir(exist_ok=True)
    script = folder / "scontrol"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {folder / 'calls.txt'}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder / "calls.txt"


def stop_after_progress(process: subprocess.Popen, last: Path, beyond: int, stop: signal.Signals, base: Path) -> int:
    """Wait until `last` holds a step beyond `beyond`, send `stop`; the process must end with 143. Its final step."""
    wait_for(last.relative_to(base).as_posix(), base, process)
    while read_checkpoint(last)["global_step"] <= beyond:
        assert process.poll() is None, (base / "stderr.txt").read_text()[-2000:]
        time.sleep(0.2)
    process.send_signal(stop)
    assert process.wait(timeout=120) == 128 + signal.SIGTERM, (base / "stderr.txt").read_text()[-2000:]
    return read_checkpoint(last)["global_step"]


def test_a_stopped_job_run_again_continues_its_run_and_sigusr1_requeues_it(tmp_path, idx_root):
    calls = fake_scontrol(tmp_path / "bin")
    cluster = os.environ | {"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", "SLURM_JOB_ID": "4242"}
    command = [*short_run(idx_root, "trainer.max_epochs=1000", "callbacks.sample_preview.every_n_epochs=1000"),
               "trainer.log_every_n_steps=1", "resume=auto", *path_overrides(tmp_path)]
    first = start_entry("train.py", *command, base=tmp_path, env=cluster)
    (run,) = wait_for("logs/train/runs/*", tmp_path, first).parent.iterdir()
    last = run / "checkpoints" / "last.ckpt"
    stopped = stop_after_progress(first, last, 0, signal.SIGTERM, tmp_path)
    assert not calls.exists()  # SIGTERM (scancel, preemption) saves and stops, and requeues nothing

    again = start_entry("train.py", *command, base=tmp_path, env=cluster)  # the requeued job: the same command
    requeued = stop_after_progress(again, last, stopped, signal.SIGUSR1, tmp_path)
    assert calls.read_text() == "requeue 4242\n"
    assert [p.name for p in (tmp_path / "logs" / "train" / "runs").iterdir()] == [run.name]  # one run, continued
    sessions = sorted(events(run))  # named by their start time
    assert len(sessions) == 2
    steps = [event.step for path in sessions for event in EventAccumulator(str(path)).Reload().Scalars("train/loss_d")]
    assert requeued > stopped and steps == list(range(1, requeued // 2 + 1))  # every D step once, counting on


def test_a_sweep_run_again_in_its_folder_continues_each_job(tmp_path, idx_root):
    sweep = tmp_path / "sweep"
    command = ["-m", *short_run(idx_root, "trainer.max_epochs=10"), "model.n_critic=1,2", "resume=auto",
               f"hydra.sweep.dir={sweep}", *path_overrides(tmp_path)]
    interrupted = start_entry("train.py", *command, base=tmp_path)
    wait_for("sweep/0/checkpoints/last.ckpt", tmp_path, interrupted)
    interrupted.send_signal(signal.SIGTERM)
    assert interrupted.wait(timeout=120) == 128 + signal.SIGTERM
    assert not (sweep / "1").exists()

    again = run_entry("train.py", *command)  # as the cluster runs a requeued job: the same command, the same folders
    assert again.returncode == 0, again.stderr[-3000:]
    assert summary_of(sweep)["completed"] == 2
    for job, n_critic in (("0", 1), ("1", 2)):
        assert read_checkpoint(sweep / job / "checkpoints" / "last.ckpt")["global_step"] == 10 * (4 + 4 // n_critic)
    assert len(events(sweep / "0")) == 2 and len(events(sweep / "1")) == 1  # job 0 went on where it stopped


# ------------------------------------------------------------------------------------------------------
# The SLURM launcher


def test_slurm_launcher_config_makes_a_requeueing_sbatch_script(tmp_path, monkeypatch):
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("train", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "resume=auto",
                                          f"hydra.sweep.dir={tmp_path}"], return_hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert launcher.pop("_target_") == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    # The sbatch script submitit writes from it, built as the launcher builds it (submitit looks for srun first).
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").touch(mode=0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    executor = submitit.AutoExecutor(cluster="slurm", folder=launcher.pop("submitit_folder"),
                                     slurm_max_num_timeout=launcher.pop("max_num_timeout"))
    generic = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{key if key in generic else f"slurm_{key}": value for key, value in launcher.items()})
    script = executor._executor._make_submission_file_text("python -m submitit.core._submit", "0").splitlines()
    for line in ("#SBATCH --signal=USR1@120", "#SBATCH --requeue", "#SBATCH --partition=gpu", "#SBATCH --time=240",
                 "#SBATCH --gpus-per-node=1", "#SBATCH --ntasks-per-node=1", "export OMP_NUM_THREADS=8"):
        assert line in script
    assert cfg.resume == "auto"
