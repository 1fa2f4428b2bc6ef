"""`val/fid_domain` during training: the number a sweep can rank runs by."""

from __future__ import annotations

from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from ganforge.callbacks.preview import is_last_epoch
from ganforge.generation import draw_evaluation_set
from ganforge.metrics import MetricInputs, SampleSet, split_set


class DomainFID(L.Callback):
    """Logs `val/fid_domain` every `every_n_epochs` epochs and after the last: the domain-classifier FID of
    `n_samples` samples against the test split, whose statistics are computed once and cached.

    `suite` is a `DomainMetrics` config (FID only is cheap: a few seconds for 2000 samples on a CPU);
    `data_config` is the run's data config, recorded with a classifier trained on first use.
    """

    def __init__(
        self,
        suite: DictConfig | dict[str, Any],
        data_config: DictConfig | dict[str, Any],
        dataset: str,
        n_samples: int = 2000,
        every_n_epochs: int = 5,
        seed: int = 0,
    ) -> None:
        self.suite = instantiate(suite)
        self.data_config = OmegaConf.to_container(OmegaConf.create(data_config), resolve=True)
        self.dataset, self.n_samples, self.every_n_epochs, self.seed = dataset, n_samples, every_n_epochs, seed
        self.test: SampleSet | None = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs and not is_last_epoch(trainer):
            return
        datamodule = trainer.datamodule
        if self.test is None:
            self.test = split_set(datamodule, "test", self.dataset)
        generated = draw_evaluation_set(pl_module, datamodule, self.n_samples, self.seed)
        inputs = MetricInputs(generated, self.test, datamodule, self.data_config, self.dataset, pl_module.device, self.seed)
        pl_module.log("val/fid_domain", self.suite(inputs).values["fid"], prog_bar=True)
