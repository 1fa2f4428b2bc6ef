"""`val/fid_domain` during training: the number a sweep can rank runs by."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf
from torchmetrics.image.fid import FrechetInceptionDistance

from ganforge.callbacks.preview import is_last_epoch
from ganforge.domain_classifier import DomainClassifier, domain_classifier
from ganforge.sampling import draw_evaluation_set
from ganforge.metrics.domain import DomainFeatures, domain_fid_metric


class DomainFID(L.Callback):
    """Logs `val/fid_domain` every `every_n_epochs` epochs and after the last: the FID of `n_samples` samples against
    the test split in the features of the dataset's domain classifier (torchmetrics; the test split's statistics
    are computed once per run).

    The classifier is `classifier_dir/<dataset>-<key>.pt` (key: a digest of the data and the recipe), trained from `classifier` (a model config) for
    `classifier_epochs` when there is none. Under DDP every rank measures its share of the samples and of the
    test split, and the statistics are summed across ranks: the number is the one a single process gets.
    """

    metric = "val/fid_domain"
    logged_metrics = (metric,)  # what a sweep may rank by (ganforge.sweeps.check_optimized_metric)

    def __init__(
        self,
        classifier: DictConfig | dict[str, Any],
        classifier_dir: str,
        data_config: DictConfig | dict[str, Any],
        dataset: str,
        classifier_epochs: int = 2,
        n_samples: int = 2000,
        every_n_epochs: int = 5,
        seed: int = 0,
        batch_size: int = 500,
    ) -> None:
        self.recipe = OmegaConf.to_container(OmegaConf.create(classifier), resolve=True)
        self.data_config = OmegaConf.to_container(OmegaConf.create(data_config), resolve=True)
        self.classifier_dir, self.dataset, self.classifier_epochs = classifier_dir, dataset, classifier_epochs
        self.n_samples, self.every_n_epochs, self.seed, self.batch_size = n_samples, every_n_epochs, seed, batch_size
        self.fid: FrechetInceptionDistance | None = None

    def classifier(self, trainer: L.Trainer, device: torch.device) -> DomainClassifier:
        """The dataset's classifier; when it must be trained first, the first rank trains it while the others wait."""
        def load() -> DomainClassifier:
            return domain_classifier(self.recipe, self.classifier_dir, self.dataset, self.data_config,
                                     self.classifier_epochs, device)

        found = load() if trainer.is_global_zero else None
        trainer.strategy.barrier()
        return found or load()

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        classifier = self.classifier(trainer, pl_module.device)
        self.fid = domain_fid_metric(DomainFeatures(classifier.classifier.net, classifier.to_model_space))
        self.fid.to(pl_module.device)
        test_images, _ = trainer.datamodule.load("test")
        for batch in test_images[trainer.global_rank :: trainer.world_size].split(self.batch_size):
            self.fid.update(batch.to(pl_module.device), real=True)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs and not is_last_epoch(trainer):
            return
        generated = draw_evaluation_set(pl_module, trainer.datamodule, self.n_samples, self.seed, self.batch_size,
                                        part=(trainer.global_rank, trainer.world_size))
        self.fid.reset()  # the generated statistics only: the real ones are kept
        for batch in generated.images.split(self.batch_size):
            self.fid.update(batch.to(pl_module.device), real=False)
        pl_module.log(self.metric, self.fid.compute(), prog_bar=True, sync_dist=True)
