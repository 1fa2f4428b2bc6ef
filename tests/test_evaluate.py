"""evaluate.py end to end on tiny checkpoints, its errors, and each visual analysis on known inputs."""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from conftest import load_script, path_overrides, run_entry
from ganforge.checkpoint import load_gan, load_module
from ganforge.cli import user_error
from ganforge.domain_classifier import classifier_files
from ganforge.evaluation import evaluate
from ganforge.evaluation.context import AnalysisContext, NotApplicable, ReportFigure
from ganforge.evaluation.curves import LossCurves, read_scalars
from ganforge.evaluation.discriminator import AuxiliaryConfusion, DiscriminatorTSNE
from ganforge.evaluation.grids import blended_label_embeddings
from ganforge.evaluation.memorisation import NearestNeighbours
from ganforge.evaluation.report import write_report
from ganforge.losses import NonSaturating
from ganforge.metrics import SampleSet
from ganforge.models.base import GAN, LOOP_STATE_KEY
from ganforge.models.classifier import Classifier
from ganforge.nets import MLPGenerator
from ganforge.nets.common import Critique
from ganforge.viz.images import save_png
from trained_runs import cgan_ckpt, gan_ckpt  # noqa: F401 (fixtures)

# Small analyses, so an end-to-end evaluation stays quick.
SMALL_ANALYSES = ["analyses.tsne.per_set=60", "analyses.arithmetic.samples=200", "analyses.neighbours.measured=60"]


@pytest.fixture(scope="module")
def cgan_evaluation(cgan_ckpt, tmp_path_factory):
    """`python evaluate.py ckpt=… metrics=domain` on the tiny cgan, twice (the second time without figures)."""
    base = tmp_path_factory.mktemp("eval")
    common = [f"ckpt={cgan_ckpt}", "metrics=domain", "n_samples=200", *path_overrides(base)]
    first = run_entry("evaluate.py", *common, *SMALL_ANALYSES)
    assert first.returncode == 0, first.stderr[-3000:]
    cache = {path: path.stat().st_mtime_ns for path in (base / "data" / "fidelity_cache").iterdir()}
    second = run_entry("evaluate.py", *common, "analyses=none")
    assert second.returncode == 0, second.stderr[-3000:]
    runs = sorted((base / "logs" / "eval" / "runs").iterdir())
    return {"base": base, "stdout": first.stdout, "cache": cache, "runs": runs,
            "metrics": [json.loads((run / "metrics.json").read_text()) for run in runs]}


def test_evaluate_prints_and_writes_every_domain_number_of_a_conditional_model(cgan_evaluation):
    summary = cgan_evaluation["metrics"][0]
    domain = summary["metrics"]["domain"]
    assert set(domain) == {"fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall", "f_score",
                           "fid_floor", "classifier_test_accuracy", "label_accuracy", "cas"}
    assert domain["fid"] > domain["fid_floor"] > 0  # a one-epoch GAN lies further from the test split than real images
    for key in ("precision", "recall", "label_accuracy", "cas"):  # each a fraction of the 200 samples or test images
        assert domain[key] * 200 == pytest.approx(round(domain[key] * 200), abs=1e-4), key  # float32 means
    classifier, _ = load_module(classifier_files(cgan_evaluation["base"] / "data" / "classifiers", "mnist")[0], Classifier)
    assert domain["classifier_test_accuracy"] == classifier.test_accuracy.item() > 0.9  # the one trained on first use
    assert summary["n_samples"] == 200 and summary["seed"] == 0 and summary["conditional"] is True
    assert summary["sampling_weights"] == "ema"  # model=cgan keeps an EMA of G, and that is what was measured
    assert summary["real_split"].startswith("mnist-test-200-")  # and a key of the images' content
    measured = summary["measured_with"]["domain"]
    assert measured["real_statistics"] == summary["real_split"] and measured["feature_extractor"].startswith("ganforge-mnist-")
    for key in ("domain/fid", "domain/label_accuracy", "domain/cas"):
        assert re.search(rf"^{key}\s+{domain[key.split('/')[1]]:.4f}$", cgan_evaluation["stdout"], re.MULTILINE)


def test_evaluate_draws_every_analysis_and_a_self_contained_report(cgan_evaluation):
    run, summary = cgan_evaluation["runs"][0], cgan_evaluation["metrics"][0]
    expected = {"samples", "classes", "interpolation", "class_interpolation", "arithmetic", "neighbours", "tsne", "losses"}
    assert {name.removesuffix(".png") for name in summary["figures"]} == expected
    assert all((run / name).is_file() for name in summary["figures"])
    assert summary["not_applicable"] == [
        "label_free metrics: the dataset is labelled: the domain suite measures it in its classifier's features "
        "(metrics.suites.label_free.unlabelled_only=false adds these too)",
        "confusion analysis: the discriminator has no classifier head",
    ]
    report = (run / "report.html").read_text()
    assert report.count("src='data:image/png;base64,") == len(expected)
    assert "src='http" not in report and "label_accuracy" in report
    assert any((run / "tensorboard").glob("events.out.tfevents.*"))


def test_a_second_evaluation_reuses_the_cached_real_statistics(cgan_evaluation):
    cache = cgan_evaluation["cache"]
    assert any(re.match(r"mnist-test-200-[0-9a-f]{16}-ganforge-mnist-", path.name) for path in cache)
    assert any(re.match(r"mnist-train-200-[0-9a-f]{16}-ganforge-mnist-", path.name) for path in cache)  # the floor's
    assert {path: path.stat().st_mtime_ns for path in cache} == cache
    first, second = cgan_evaluation["metrics"]
    assert second["metrics"] == first["metrics"] and second["figures"] == []


def test_an_unconditional_model_gets_no_label_metrics(compose_config, gan_ckpt, tmp_path):
    cfg = compose_config([f"ckpt={gan_ckpt}", "metrics=domain", "n_samples=100", "n_real=50", "analyses=none"],
                         config_name="evaluate")
    evaluate(cfg)
    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert set(summary["metrics"]["domain"]) == {"fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall",
                                                 "f_score", "fid_floor", "classifier_test_accuracy"}
    assert summary["conditional"] is False and summary["real_split"].startswith("mnist-test-50-")
    assert summary["measured_with"]["domain"]["real_statistics"].startswith("mnist-test-50-")
    assert summary["measured_with"]["domain"]["floor_statistics"].startswith("mnist-train-100-")


def corrupt(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04 not really a zip")


def other_project(path: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 3}, path)


@pytest.mark.parametrize(
    ("make", "overrides", "message"),
    [
        (None, ["ckpt=null"], "no checkpoint given: add ckpt=PATH"),
        (None, ["ckpt={path}"], "checkpoint not found"),
        (corrupt, ["ckpt={path}"], "it is corrupt or not a checkpoint"),
        (other_project, ["ckpt={path}"], "is not a ganforge checkpoint"),
        (None, ["ckpt={cgan}", "n_samples=0"], "n_samples must be a positive number"),
        (None, ["ckpt={cgan}", "metrics=inception", "metrics.inception_weights={path}"], "no such file"),
    ],
)
def test_bad_input_is_one_clear_error_and_writes_nothing(compose_config, cgan_ckpt, tmp_path, make, overrides, message):
    path = tmp_path / "given.ckpt"
    if make:
        make(path)
    cfg = compose_config([o.format(path=path, cgan=cgan_ckpt) for o in overrides], config_name="evaluate")
    with pytest.raises(Exception) as raised:  # Hydra wraps errors raised while building objects
        evaluate(cfg)
    assert re.search(message, str(user_error(raised.value)))  # what the entry point prints
    assert not (tmp_path / "metrics.json").exists()


def test_evaluate_py_reports_missing_inception_weights_in_one_line(cgan_ckpt, tmp_path):
    result = run_entry("evaluate.py", f"ckpt={cgan_ckpt}", "metrics=all", f"metrics.inception_weights={tmp_path / 'w.pth'}",
                       *path_overrides(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: metrics.inception_weights={tmp_path / 'w.pth'}: no such file;")
    assert not list(tmp_path.glob("logs/eval/runs/*/metrics.json"))


# --------------------------------------------------------------------------------------------------
# The analyses, one by one


class BarReader(nn.Module):
    """A discriminator with an auxiliary classifier head that reads the synthetic bars (class k: rows 2k+4 … 2k+6)."""

    def __init__(self) -> None:
        super().__init__()
        self.sharpness = nn.Parameter(torch.tensor(10.0))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Critique:
        rows = x[:, 0, :, 4:24].mean(-1)
        class_logits = torch.stack([rows[:, 2 * k + 4 : 2 * k + 7].mean(1) for k in range(10)], 1) * self.sharpness
        return Critique(rows.mean(1), rows, class_logits)


def context_for(gan: GAN, record: dict, tmp_path: Path, generated: SampleSet | None = None) -> AnalysisContext:
    datamodule = instantiate(record["data"])
    test, train = SampleSet(*datamodule.load("test")), SampleSet(*datamodule.load("train"))
    generated = generated or SampleSet(train.images[:100], train.labels[:100])
    return AnalysisContext(gan, datamodule, generated, test, train, tmp_path / "checkpoints" / "last.ckpt", tmp_path, 0, 100)


def test_confusion_matrix_of_an_auxiliary_classifier(cgan_ckpt, tmp_path):
    trained, record = load_gan(cgan_ckpt)
    adam = partial(torch.optim.Adam, lr=1e-3)
    gan = GAN(trained.generator, BarReader(), NonSaturating(), adam, adam, init_std=None)
    figures = AuxiliaryConfusion()(context_for(gan, record, tmp_path))
    assert figures[0].numbers == {"accuracy": 1.0} and figures[0].path.is_file()
    with pytest.raises(NotApplicable, match="no classifier head"):
        AuxiliaryConfusion()(context_for(trained, record, tmp_path))


def test_blended_embeddings_reproduce_plain_labels_and_mix_classes(cgan_ckpt):
    gan, _ = load_gan(cgan_ckpt)
    z, labels = torch.randn(4, gan.latent_dim), torch.tensor([0, 3, 5, 9])
    one_hot = nn.functional.one_hot(labels, 10).float()
    with blended_label_embeddings(gan.generator, one_hot):
        blended = gan.sample(z, labels)
    assert torch.allclose(blended, gan.sample(z, labels), atol=1e-6)
    generator = MLPGenerator(latent_dim=4, hidden_dims=(8,), num_classes=3, embed_dim=5)
    table = generator.condition.embedding.weight
    with blended_label_embeddings(generator.condition, torch.tensor([[0.25, 0.75, 0.0]])):
        mixed = generator.condition(torch.zeros(1, 4), torch.tensor([0]))
    assert torch.allclose(mixed[0, 4:], 0.25 * table[0] + 0.75 * table[1])


def test_nearest_neighbours_catch_copies_of_the_training_set(cgan_ckpt, tmp_path):
    gan, record = load_gan(cgan_ckpt)
    copies = context_for(gan, record, tmp_path)  # "generated" = 100 training images
    numbers = NearestNeighbours(samples=4, k=3, measured=50)(copies)[0].numbers
    assert numbers["median_distance_generated"] == 0.0 and numbers["ratio"] == 0.0
    assert numbers["median_distance_test"] > 0.05


def test_tsne_tells_noise_from_real_images_in_d_features(cgan_ckpt, tmp_path):
    gan, record = load_gan(cgan_ckpt)
    noise = SampleSet(torch.randint(0, 256, (50, 1, 28, 28), dtype=torch.uint8), torch.arange(50) % 10)
    figure = DiscriminatorTSNE(per_set=50, perplexity=15)(context_for(gan, record, tmp_path, noise))[0]
    assert figure.numbers["same_kind_neighbour"] > 0.95 and figure.path.is_file()


def test_loss_curves_are_read_back_from_tensorboard_events(cgan_ckpt, tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    gan, record = load_gan(cgan_ckpt)
    context = context_for(gan, record, tmp_path)
    with pytest.raises(NotApplicable, match="no TensorBoard scalars"):
        LossCurves()(context)
    with SummaryWriter(str(tmp_path / "tensorboard")) as writer:
        for step in range(40):
            writer.add_scalar("train/loss_d_step", 1.0 / (step + 1), step)
            writer.add_scalar("train/loss_d_epoch", 5.0, step)
    steps, values = read_scalars(tmp_path)["train/loss_d_step"]
    assert steps.tolist() == list(range(40)) and values[3] == pytest.approx(0.25)
    assert LossCurves()(context)[0].path.is_file()


def test_report_inlines_figures_and_tables(tmp_path):
    picture = save_png(torch.zeros(8, 8, 3, dtype=torch.uint8).numpy(), tmp_path / "x.png")
    figure = ReportFigure("x", "A <figure>", "caption & more", picture, {"ratio": 0.5})
    page = write_report(tmp_path / "report.html", "Title", {"model": "cgan"}, {"domain": {"fid": 12.3456789}}, [figure],
                        ["confusion: not here"], {"domain": {"real_statistics": "fashion-test-10000"}}).read_text()
    assert "<td class='number'>12.3457</td>" in page and "fashion-test-10000" in page and "A &lt;figure&gt;" in page and "caption &amp; more" in page
    assert page.count("data:image/png;base64,") == 1 and "confusion: not here" in page


@pytest.mark.parametrize(("last_steps", "last_on_the_curve"), [(200, False), (250, True)],
                         ids=["ended-on-an-epoch", "stopped-mid-epoch"])
def test_the_fid_curve_ends_on_last_ckpt_only_when_it_holds_more_training(tmp_path, last_steps, last_on_the_curve):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name, steps in (("epoch_000.ckpt", 100), ("epoch_001.ckpt", 200), ("last.ckpt", last_steps)):
        torch.save({LOOP_STATE_KEY: {"discriminator_steps": steps}}, folder / name)
    chosen = [path.name for path in load_script("fid_curve").curve_checkpoints(tmp_path)]
    assert chosen == ["epoch_000.ckpt", "epoch_001.ckpt"] + ["last.ckpt"] * last_on_the_curve


def test_the_ablation_table_gives_each_choice_the_mean_and_spread_of_its_seeds():
    ablation = load_script("ablation")
    assert ablation.override(["experiment=best_fashion", "ablation=r1", "seed=2"], "ablation") == "r1"
    assert ablation.override(["+seed=3"], "seed") == "3" and ablation.override(["seed=3"], "ablation", "recipe") == "recipe"
    job = {"fid_floor": 0.2, "label_accuracy": 0.9}
    rows = [job | {"ablation": "recipe", "images": 1e6, "fid": 0.4, "precision": 0.8, "recall": 0.7},
            job | {"ablation": "recipe", "images": 2e6, "fid": 0.6, "precision": 0.9, "recall": 0.7, "label_accuracy": 0.92},
            job | {"ablation": "no_ema", "images": 3e6, "fid": 1.0, "precision": 0.5, "recall": 0.6, "label_accuracy": None}]
    header, rule, recipe, no_ema = ablation.table(rows).splitlines()
    assert recipe == "| recipe | 2 | 1.50 ± 0.71 | 2.5 ± 0.7 | 0.850 ± 0.071 | 0.700 ± 0.000 | 0.910 ± 0.014 |"
    assert no_ema == "| no_ema | 1 | 3.00 | 5.0 | 0.500 | 0.600 | — |"
