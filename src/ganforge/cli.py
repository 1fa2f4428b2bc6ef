"""What the entry points share: checking config-group choices and turning user errors into one line."""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ganforge.config import register_resolvers
from ganforge.errors import GanforgeError, one_line
from ganforge.sweeps import in_multirun, job_failed

T = TypeVar("T")

# `group=a,b` as typed on the command line; sweeps written as functions (glob(…), range(…)) are left to Hydra.
_CHOICE = re.compile(r"^(?P<group>[a-z_]+)=(?P<values>[\w\-.,]+)$")


def check_group_choices(argv: Sequence[str], conf_dir: Path, command: str) -> None:
    """Raise a one-line error for `group=name` naming no config in `conf_dir/group/` (e.g. `model=gna`)."""
    for arg in argv:
        match = _CHOICE.match(arg)
        if not match or not (conf_dir / match["group"]).is_dir():
            continue
        group = match["group"]
        options = sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))
        for value in match["values"].split(","):
            if value not in options and value != "null":
                raise GanforgeError(
                    f"unknown {group} {value!r}; choose one of: {', '.join(options)} (python {command} {group}=<name>)"
                )


def user_error(err: BaseException) -> GanforgeError | None:
    """The user error behind `err` (Hydra and OmegaConf wrap the exceptions raised while building objects)."""
    while err is not None:
        if isinstance(err, GanforgeError):
            return err
        err = err.__cause__ or err.__context__
    return None


def reporting_user_errors(main: Callable[..., T]) -> Callable[..., T]:
    """Run `main`, printing a user error as one `error: …` line and exiting with status 2.

    In a job of a sweep (`-m`) the error is raised as `JobFailed` instead: Hydra records that job as failed and
    the other jobs go on (an exit would end them all); the sweep prints it and exits non-zero at its end.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except Exception as err:
            cause = user_error(err)
            if cause is None:
                raise
            if in_multirun():
                raise job_failed(str(cause)) from err
            print(f"error: {cause}", file=sys.stderr)
            sys.exit(2)

    return wrapper


def check_writable_folder(folder: Path, setting: str) -> None:
    """A GanforgeError unless `folder` exists (made here if need be) and this process may write into it."""
    if folder.exists() and not folder.is_dir():
        raise GanforgeError(f"{folder} is a file, not a folder; set {setting} to a folder you can write")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GanforgeError(f"cannot make the folder {folder} ({err.strerror or one_line(err)}); set {setting} to a "
                            f"folder you can write") from err
    if not os.access(folder, os.W_OK | os.X_OK):
        raise GanforgeError(f"cannot write into {folder} (it is read-only); set {setting} to a folder you can write")


class WritableRunFolder(Callback):
    """Hydra callback: the folder a run's (or a sweep's) own folder goes into is made and checked before Hydra
    makes the run's folder, so an unwritable paths.log_dir is one line instead of Hydra's traceback.

    Only the parent is made: the run's folder name holds the time, which may differ by the time Hydra makes it.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.check(Path(config.hydra.run.dir).parent)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.check(Path(config.hydra.sweep.dir).parent)

    @staticmethod
    def check(folder: Path) -> None:
        try:
            check_writable_folder(folder, "paths.log_dir")
        except GanforgeError as err:  # Hydra turns a callback's exception into a warning: stop here instead
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from err


def prepare_entry(project_root: Path, command: str) -> None:
    """Set up what a Hydra entry point needs before composing its config, reporting bad choices in one line."""
    os.environ["PROJECT_ROOT"] = str(project_root)
    register_resolvers()
    reporting_user_errors(check_group_choices)(sys.argv[1:], project_root / "conf", command)
