"""Every model × data config composes, and instantiates into a datamodule and a module that fit together."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict

from conftest import ROOT
from ganforge.cli import check_group_choices, user_error
from ganforge.errors import ConfigError, GanforgeError

MODELS = sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (ROOT / "conf" / "data").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
DEBUG = sorted(p.stem for p in (ROOT / "conf" / "debug").glob("*.yaml"))
# What each ablation of the best recipe switches: the settings (model.…, trainer.…) it may change
ABLATIONS = {
    "recipe": set(),
    "no_ema": {"model.ema"},
    "no_spectral_norm": {"model.discriminator.spectral_norm"},
    "concat_label": {"model.discriminator.conditioning"},
    "equal_lr": {"model.optimizer_d.lr", "model.optimizer_g.lr"},  # both to 2e-4 (best_fashion's D has it already)
    "r1": {"model.regularisers.r1"},
    "diffaugment": {"model.augment"},
    "lr_decay": {"model.lr_schedule"},
}


def offline_data(cfg, idx_root: Path, image_folder: Path, cifar_root: Path) -> None:
    """Point image datasets at the synthetic IDX files, CIFAR-10 batches or pictures."""
    with open_dict(cfg):
        if "root" in cfg.data:
            root = cifar_root if cfg.data._target_.endswith("CIFAR10DataModule") else idx_root
            cfg.data.root, cfg.data.search_dirs, cfg.data.download = str(root), [], False
        if "path" in cfg.data:
            cfg.data.path, cfg.data.sample_shape, cfg.data.batch_size = str(image_folder), [3, 32, 32], 8


@pytest.mark.parametrize("data", DATASETS)
@pytest.mark.parametrize("model", MODELS)
def test_model_and_data_instantiate_together(compose_config, idx_root, image_folder, cifar_root, model, data):
    cfg = compose_config([f"model={model}", f"data={data}"])
    offline_data(cfg, idx_root, image_folder, cifar_root)
    datamodule = instantiate(cfg.data)
    try:
        module = instantiate(cfg.model)
    except Exception as err:  # a conditional model on an unlabelled dataset must say so
        assert isinstance(user_error(err), ConfigError) and datamodule.num_classes == 0
        return
    if not hasattr(module, "generator"):
        return
    datamodule.setup("fit")
    samples, labels = datamodule.on_after_batch_transfer(next(iter(datamodule.train_dataloader())), 0)
    fake = module.generator(module.sample_noise(len(labels)), labels)
    assert fake.shape == samples.shape
    assert module.discriminator(fake, labels).logits.shape == (len(labels),)


@pytest.mark.parametrize("override", [f"experiment={e}" for e in EXPERIMENTS] + [f"debug={d}" for d in DEBUG])
def test_experiment_and_debug_configs_compose(compose_config, override):
    cfg = compose_config([override])
    assert cfg.model._target_ and cfg.data._target_


def flat(node: object, prefix: str = "") -> dict[str, object]:
    """A nested config as {dotted key: leaf value}; an empty or null node is a leaf."""
    if isinstance(node, dict) and node:
        return {key: value for name, child in node.items() for key, value in flat(child, f"{prefix}{name}.").items()}
    return {prefix.rstrip("."): node}


def test_every_ablation_is_listed_with_what_it_switches():
    assert set(ABLATIONS) == {p.stem for p in (ROOT / "conf" / "ablation").glob("*.yaml")}


@pytest.mark.parametrize("ablation", sorted(ABLATIONS))
def test_an_ablation_switches_its_own_option_of_the_recipe_and_nothing_else(compose_config, ablation):
    def settings(cfg) -> dict[str, object]:
        return flat({group: OmegaConf.to_container(cfg[group], resolve=True) for group in ("model", "trainer")})

    recipe = settings(compose_config(["experiment=best_fashion"]))
    cfg = compose_config(["experiment=best_fashion", f"ablation={ablation}"])
    switched = settings(cfg)
    assert instantiate(cfg.model).generator is not None
    changed = {key for key in recipe.keys() | switched.keys() if recipe.get(key, "-") != switched.get(key, "-")}
    assert all(any(key == option or key.startswith(option + ".") for option in ABLATIONS[ablation]) for key in changed)
    assert bool(changed) == bool(ABLATIONS[ablation])


def test_default_run_settings(compose_config):
    cfg = compose_config()
    # the conditional MLP GAN with the modern stabilisers on Fashion-MNIST, in bf16 where the device computes in it
    # natively; G narrower than D (docs/results.md)
    generator, critic = cfg.model.generator, cfg.model.discriminator
    assert generator._target_ == "ganforge.nets.MLPGenerator" and generator.num_classes == 10 and generator.batch_norm
    assert critic.spectral_norm and critic.conditioning == "projection" and cfg.model.ema is not None
    assert max(generator.hidden_dims) < max(critic.hidden_dims)
    assert cfg.data.torchvision_name == "FashionMNIST"
    native_bf16 = torch.cuda.is_bf16_supported() if torch.cuda.is_available() else torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert cfg.trainer.precision == ("bf16-mixed" if native_bf16 else "32-true")


def test_unknown_group_choice_is_one_line(tmp_path):
    with pytest.raises(GanforgeError, match=r"unknown model 'gna'; choose one of: .*\bcgan\b.*\bgan\b"):
        check_group_choices(["model=gna"], ROOT / "conf", "train.py")
    with pytest.raises(GanforgeError, match="unknown data 'cifar'"):
        check_group_choices(["-m", "data=fashion,cifar"], ROOT / "conf", "train.py")
    check_group_choices(["model=gan,dcgan", "model.n_critic=2", "experiment=null", "data=glob(*)"], ROOT / "conf", "train.py")
