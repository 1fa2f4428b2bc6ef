"""Sweeps and cluster jobs: a metric to rank by that is really logged, one failed job that does not stop the
others, a summary of every sweep, and a job told to stop by its cluster that saves and requeues itself.

Hydra runs every job of a sweep through `hydra.core.utils.run_job`, which records an exception as a failed job
and lets the launcher go on with the others (basic, joblib and submitit alike). A user error inside a job is
therefore re-raised as `JobFailed` (see `ganforge.cli.reporting_user_errors`) instead of ending the process;
`SweepSummary` writes `summary.yaml` in the sweep's folder as each job ends, and the sweep exits non-zero when
any job failed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from ganforge.errors import ConfigError, one_line

log = logging.getLogger(__name__)

SUMMARY_FILE = "summary.yaml"
# SLURM sends it ahead of the time limit when asked to (`--signal=USR1@120`, see conf/hydra/launcher/slurm.yaml).
REQUEUE_SIGNAL = signal.SIGUSR1


# ------------------------------------------------------------------------------------------------------
# The metric a sweep ranks by


def metrics_logged_by(callbacks: Iterable[Any]) -> set[str]:
    """The metrics that callbacks (instances or classes) declare in their `logged_metrics`."""
    return {metric for callback in callbacks for metric in getattr(callback, "logged_metrics", ())}


def check_optimized_metric(metric: str | None, callbacks: Iterable[Any]) -> None:
    """A ConfigError unless a callback of the run logs `metric`: a sweep would otherwise rank nothing."""
    if not metric:
        return
    logged = metrics_logged_by(callbacks)
    if metric not in logged:
        raise ConfigError(
            f"optimized_metric={metric} is logged by no callback of this run (they log: "
            f"{', '.join(sorted(logged)) or 'nothing to rank by'}); e.g. callbacks=domain_fid optimized_metric=val/fid_domain"
        )


def callback_classes(config: DictConfig) -> list[type]:
    """The classes of the Lightning callbacks a composed train config lists, without building them."""
    return [get_class(node._target_) for node in (config.get("callbacks") or {}).values()
            if isinstance(node, DictConfig) and "_target_" in node]


# ------------------------------------------------------------------------------------------------------
# Failed jobs and the sweep's summary


def in_multirun() -> bool:
    """Whether this process runs a job of a sweep (`-m`), where one job's error must not end the others."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


class JobFailed(CompactHydraException):
    """A user error inside one job of a sweep: Hydra records the job as failed, and prints this one line (not a
    traceback) when the sweep ends."""

    def __init__(self, reason: str, job: int, summary: str) -> None:
        super().__init__(reason, job, summary)
        self.reason, self.job, self.summary = reason, job, summary

    def __str__(self) -> str:
        return f"error: {self.reason} (job {self.job}; every job's outcome: {self.summary})"


def job_failed(reason: str) -> JobFailed:
    """`JobFailed` for the job this process runs."""
    hydra = HydraConfig.get()
    return JobFailed(reason, hydra.job.num, str(Path(hydra.sweep.dir) / SUMMARY_FILE))


def job_outcome(config: DictConfig, job_return: JobReturn) -> dict[str, Any]:
    """What the summary says of one job: its overrides and folder, then its value or why it failed."""
    outcome: dict[str, Any] = {
        "job": config.hydra.job.num,
        "overrides": list(job_return.overrides or []),
        "dir": config.hydra.runtime.output_dir,
    }
    if job_return.status == JobStatus.COMPLETED:
        value = job_return._return_value
        return outcome | {"status": "completed", "value": value if isinstance(value, (int, float)) else None}
    error = job_return._return_value
    reason = error.reason if isinstance(error, JobFailed) else f"{type(error).__name__}: {one_line(error)}"
    return outcome | {"status": "failed", "error": reason}


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (jobs of a joblib or cluster sweep end at the same time in other processes)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record_outcome(sweep_dir: Path, outcome: dict[str, Any]) -> None:
    """Add (or, for a job run again, replace) one job's outcome in the sweep's summary."""
    summary_file = sweep_dir / SUMMARY_FILE
    with locked(sweep_dir / f".{SUMMARY_FILE}.lock"):
        jobs = yaml.safe_load(summary_file.read_text())["jobs"] if summary_file.is_file() else []
        jobs = sorted([job for job in jobs if job["job"] != outcome["job"]] + [outcome], key=lambda job: job["job"])
        failed = [job["job"] for job in jobs if job["status"] == "failed"]
        summary = {"completed": len(jobs) - len(failed), "failed": failed, "jobs": jobs}
        temporary = summary_file.with_name(f".{SUMMARY_FILE}.{os.getpid()}.tmp")
        temporary.write_text(yaml.safe_dump(summary, sort_keys=False, width=1000))
        os.replace(temporary, summary_file)


class SweepSummary(Callback):
    """Hydra callback: checks the metric a sweep ranks by before any job starts, writes `summary.yaml` in the
    sweep's folder as each job ends (which jobs failed and why), logs one line per failed job and, when the
    sweeper went through all of them (Optuna), one for the sweep, ending it with exit status 1 if any failed.
    The basic and joblib sweepers raise the first failed job's error themselves once the others have run.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_optimized_metric(config.get("optimized_metric"), callback_classes(config))
        except ConfigError as err:  # Hydra turns a callback's exception into a warning: stop here instead
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from err

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        outcome = job_outcome(config, job_return)
        record_outcome(Path(config.hydra.sweep.dir), outcome)
        if outcome["status"] == "failed":
            log.error("Job %d failed: %s (overrides: %s)", outcome["job"], outcome["error"], " ".join(outcome["overrides"]))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        summary_file = Path(config.hydra.sweep.dir) / SUMMARY_FILE
        if not summary_file.is_file():
            return
        summary = yaml.safe_load(summary_file.read_text())
        failed = summary["failed"]
        log.info("Sweep done: %d jobs completed, %d failed%s; every job's outcome: %s", summary["completed"],
                 len(failed), f" (jobs {', '.join(map(str, failed))})" if failed else "", summary_file)
        if failed:
            print(f"error: {len(failed)} of {len(summary['jobs'])} jobs failed (jobs {', '.join(map(str, failed))}); "
                  f"why: {summary_file}", file=sys.stderr)
            raise SystemExit(1)


# ------------------------------------------------------------------------------------------------------
# Requeued cluster jobs


def slurm_job_id() -> str | None:
    """The id `scontrol requeue` takes for this SLURM job (an array task's own), None outside SLURM."""
    array_job, array_task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and array_task:
        return f"{array_job}_{array_task}"
    return os.environ.get("SLURM_JOB_ID")


class Requeue:
    """While training: `REQUEUE_SIGNAL` stops the run as SIGTERM does (the batch under way ends, last.ckpt is
    saved), and `submit` then puts the SLURM job back in the queue; its next start continues the run
    (`resume=auto`, in the same folder). SIGTERM alone (scancel, preemption) saves and stops without requeueing:
    a preempted job is requeued by SLURM itself.
    """

    def __init__(self) -> None:
        self.requested = False
        self.previous: Any = None

    def __enter__(self) -> Requeue:
        if threading.current_thread() is threading.main_thread():  # only the main thread may handle signals
            self.previous = signal.signal(REQUEUE_SIGNAL, self.request)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.previous is not None:
            signal.signal(REQUEUE_SIGNAL, self.previous)

    def request(self, signum: int, frame: object) -> None:
        self.requested = True
        log.warning("Received %s: stopping after this batch to save and requeue", signal.Signals(signum).name)
        os.kill(os.getpid(), signal.SIGTERM)  # Lightning's own way to stop between batches, and last.ckpt's trigger

    def submit(self) -> None:
        """Requeue this SLURM job if `REQUEUE_SIGNAL` asked for it (once, from the job's first task)."""
        if not self.requested:
            return
        job = slurm_job_id()
        if job is None:
            log.warning("Not a SLURM job: nothing to requeue; run the same command with resume=auto to continue")
        elif os.environ.get("SLURM_PROCID", "0") == "0":
            done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True)
            if done.returncode:
                log.error("scontrol requeue %s failed: %s", job, done.stderr.strip())
            else:
                log.info("Requeued SLURM job %s; it continues from last.ckpt", job)
