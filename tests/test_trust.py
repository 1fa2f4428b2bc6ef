"""A checkpoint is untrusted input: nothing recorded in it may decide which code runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from conftest import path_overrides, run_entry
from ganforge.checkpoint import read_checkpoint, trusted_targets, untrusted_parts
from ganforge.errors import CheckpointError

GOOD_DATA = {"_target_": "ganforge.data.IDXDataModule", "torchvision_name": "FashionMNIST", "class_names": ["a", "b"]}
GOOD_MODEL = {
    "_target_": "ganforge.models.GAN",
    "generator": {"_target_": "ganforge.nets.MLPGenerator", "sample_shape": [1, 28, 28]},
    "optimizer_g": {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 2e-4},
}


def entry_commands(ckpt: Path) -> dict[str, list[str]]:
    """The three entry points that read a checkpoint, each told to read `ckpt`."""
    return {
        "evaluate.py": [f"ckpt={ckpt}", "metrics=domain", "n_samples=10"],
        "generate.py": [f"ckpt={ckpt}", "n=4", f"out={ckpt.parent / 'samples'}"],
        "train.py": [f"ckpt_path={ckpt}", "trainer.max_epochs=1"],
    }


def save_record(path: Path, model: dict, data: dict | None = None) -> Path:
    """A pickle-free checkpoint (plain containers only) with the given recorded config."""
    record = {"model": model, "data": data or GOOD_DATA, "choices": {"model": "gan", "data": "fashion"}}
    torch.save({"state_dict": {}, "ganforge": record, "global_step": 0}, path)
    return path


class RunsACommand:
    """Pickles as a call of os.system: loading it unrestricted runs the command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def assert_refused(result, victim: Path, message: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert not victim.exists(), f"{victim} was written: the checkpoint ran code"


@pytest.mark.parametrize(
    "model, data",
    [
        # numpy.savetxt(path, rows) writes any file the user can write, e.g. a .pth file in site-packages.
        ({"_target_": "numpy.savetxt", "_args_": ["{victim}", [[1.0]]]}, None),
        # builtins.open(path, "w") creates or empties a file, here nested inside a trusted model.
        ({**GOOD_MODEL, "discriminator": {"_target_": "builtins.open", "file": "{victim}", "mode": "w"}}, None),
        # the data config is built too
        (GOOD_MODEL, {"_target_": "pathlib.Path.touch", "self": "{victim}"}),
    ],
    ids=["numpy.savetxt", "builtins.open-nested", "data-target"],
)
def test_a_crafted_config_is_refused_by_every_entry_point(tmp_path, model, data):
    victim = tmp_path / "victim.pth"
    spell = lambda config: eval(repr(config).replace("{victim}", str(victim)))  # noqa: E731
    ckpt = save_record(tmp_path / "crafted.ckpt", spell(model), spell(data) if data else None)
    for script, args in entry_commands(ckpt).items():
        result = run_entry(script, *args, *path_overrides(tmp_path))
        assert_refused(result, victim, "refusing")


def test_a_malicious_pickle_is_refused_by_every_entry_point(tmp_path):
    victim = tmp_path / "pwned"
    ckpt = tmp_path / "pickled.ckpt"
    torch.save({"state_dict": {}, "ganforge": RunsACommand(f"touch {victim}")}, ckpt)
    for script, args in entry_commands(ckpt).items():
        result = run_entry(script, *args, *path_overrides(tmp_path))
        assert_refused(result, victim, "holds pickled code (posix.system)")


@pytest.mark.parametrize(
    "content, message",
    [
        ({"state_dict": {}}, "records no ganforge config"),
        ({"state_dict": {}, "ganforge": "model=gan"}, "malformed ganforge record"),
        ({"state_dict": {}, "ganforge": {"model": GOOD_MODEL, "data": GOOD_DATA}}, "malformed ganforge record"),
        ({"state_dict": {}, "ganforge": {"model": [], "data": GOOD_DATA, "choices": {}}}, "malformed ganforge record"),
    ],
    ids=["no-record", "record-not-a-dict", "no-choices", "model-not-a-dict"],
)
def test_a_missing_or_malformed_record_is_one_line(tmp_path, content, message):
    ckpt = tmp_path / "odd.ckpt"
    torch.save(content, ckpt)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(ckpt)
    result = run_entry("generate.py", f"ckpt={ckpt}", f"out={tmp_path / 'out'}", *path_overrides(tmp_path))
    assert_refused(result, tmp_path / "out", message)


def test_the_allow_list_accepts_every_shipped_config_and_names_exact_classes():
    allowed = trusted_targets()
    assert list(untrusted_parts({"model": GOOD_MODEL, "data": GOOD_DATA}, allowed)) == []
    assert "ganforge.models.GAN" in allowed and "ganforge.models.base.GAN" in allowed
    assert "torch.optim.Adam" in allowed
    # functions of trusted packages write files: only classes are listed
    assert "ganforge.generation.write_samples" not in allowed and "ganforge.nets.init_normal_" not in allowed


@pytest.mark.parametrize(
    "config, reason",
    [
        ({"_target_": "os.system", "command": "true"}, "is not one of ganforge's classes"),
        ({"_target_": "ganforge.nets.MLPGenerator", "_partial_": True}, "only optimizers are built as partials"),
        ({"_target_": "ganforge.nets.MLPGenerator", "_args_": [1]}, "_args_ is not allowed"),
        ({"_target_": "ganforge.nets.MLPGenerator", "_recursive_": False}, "_recursive_ is not allowed"),
        ({"_target_": "ganforge.nets.MLPGenerator", "latent_dim": "${oc.decode:'{_target_: os.system}'}"},
         "is an interpolation"),
        ({"layers": [{"_target_": "subprocess.run", "args": ["true"]}]}, "layers[0]._target_"),
        ({"_target_": ["ganforge.models.GAN"]}, "is not one of ganforge's classes"),
    ],
)
def test_untrusted_parts_names_each_problem(config, reason):
    problems = list(untrusted_parts({"model": config}, trusted_targets()))
    assert problems and any(reason in problem for problem in problems), problems
