"""generate.py: PNG files per class and one samples.npz, from a checkpoint alone."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import run_entry
from ganforge.errors import GanforgeError
from ganforge.generation import generate
from trained_runs import cgan_ckpt, gan_ckpt, trained_checkpoint  # noqa: F401 (fixtures)


def test_conditional_samples_go_to_one_folder_per_class(compose_config, cgan_ckpt, tmp_path):
    npz = generate(compose_config([f"ckpt={cgan_ckpt}", "n=20"], config_name="generate"))
    samples = np.load(npz)
    assert samples["images"].dtype == np.uint8 and samples["images"].shape == (20, 28, 28)
    assert samples["labels"].tolist() == [k // 2 for k in range(20)]
    for k in range(10):  # the synthetic data's classes are named "0" … "9"
        assert sorted(p.name for p in (tmp_path / str(k)).glob("*.png")) == [f"{2 * k:05d}.png", f"{2 * k + 1:05d}.png"]
    png = np.asarray(Image.open(tmp_path / "7" / "00015.png"))
    assert np.array_equal(png, samples["images"][15])


@pytest.mark.parametrize("label", ["3", "'3'"])  # an index, or the class named "3"
def test_one_class_by_index_or_name(compose_config, cgan_ckpt, tmp_path, label):
    samples = np.load(generate(compose_config([f"ckpt={cgan_ckpt}", "n=6", f"label={label}"], config_name="generate")))
    assert samples["labels"].tolist() == [3] * 6
    assert len(list((tmp_path / "3").glob("*.png"))) == 6


def test_the_same_seed_draws_the_same_samples(compose_config, cgan_ckpt, tmp_path):
    def draw(out: str, seed: int) -> np.ndarray:
        cfg = compose_config([f"ckpt={cgan_ckpt}", "n=10", f"out={tmp_path / out}", f"seed={seed}"], config_name="generate")
        return np.load(generate(cfg))["images"]

    first, again, other = draw("a", 0), draw("b", 0), draw("c", 1)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_unconditional_samples_have_no_labels(compose_config, gan_ckpt, tmp_path):
    samples = np.load(generate(compose_config([f"ckpt={gan_ckpt}", "n=5"], config_name="generate")))
    assert set(samples.files) == {"images"} and samples["images"].shape == (5, 28, 28)
    assert len(list(tmp_path.glob("*.png"))) == 5


@pytest.mark.parametrize(
    ("model", "overrides", "message"),
    [
        ("cgan", ["n=0"], "n must be a positive number"),
        ("cgan", ["label=10"], "label=10 is not a class of this dataset; use label=all, an index 0–9"),
        ("cgan", ["label=Nope"], "label=Nope is not a class"),
        ("gan", ["label=3"], "this model is unconditional"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_written(compose_config, tmp_path_factory, tmp_path, model, overrides, message):
    ckpt = trained_checkpoint(tmp_path_factory, model)
    with pytest.raises(GanforgeError, match=message):
        generate(compose_config([f"ckpt={ckpt}", *overrides], config_name="generate"))
    assert not any(tmp_path.glob("**/*.png")) and not (tmp_path / "samples.npz").exists()


def test_existing_samples_are_not_overwritten(compose_config, cgan_ckpt, tmp_path):
    (tmp_path / "samples.npz").write_bytes(b"earlier samples")
    with pytest.raises(GanforgeError, match="already exists"):
        generate(compose_config([f"ckpt={cgan_ckpt}", "n=4"], config_name="generate"))
    assert (tmp_path / "samples.npz").read_bytes() == b"earlier samples"


def test_generate_py_writes_samples_and_reports_errors_in_one_line(cgan_ckpt, tmp_path):
    done = run_entry("generate.py", f"ckpt={cgan_ckpt}", "n=10", "label=all", f"out={tmp_path / 'out'}",
                     f"paths.log_dir={tmp_path / 'logs'}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert np.load(tmp_path / "out" / "samples.npz")["images"].shape == (10, 28, 28)
    failed = run_entry("generate.py", f"ckpt={tmp_path / 'missing.ckpt'}", f"paths.log_dir={tmp_path / 'logs'}")
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == [f"error: checkpoint not found: {tmp_path / 'missing.ckpt'}; "
                                                  "pass the .ckpt of a training run, e.g. logs/train/runs/<time>/checkpoints/last.ckpt"]
