"""The LightningModule every GAN variant is: alternating discriminator and generator steps."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import lightning as L
import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.losses import Objective
from ganforge.nets.common import Critique, evaluating, init_normal_

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
LossTerms = dict[str, torch.Tensor]


class GAN(L.LightningModule):
    """A generator and a discriminator trained in turns, with manual optimization.

    Every batch trains the discriminator once, on that fresh real batch; every `n_critic`-th batch the
    generator then takes one step. With `n_critic=5` the critic sees five different real batches per
    generator step, as in Algorithm 1 of the WGAN paper.

    Variants override `discriminator_loss` / `generator_loss` (named terms, summed and logged) and
    `after_discriminator_step`; the adversarial objective, nets and optimizers come from the config.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        objective: Objective,
        optimizer_g: OptimizerFactory,
        optimizer_d: OptimizerFactory,
        n_critic: int = 1,
        init_std: float | None = 0.02,
        gradient_clip_val: float | None = None,
    ) -> None:
        super().__init__()
        if n_critic < 1:
            raise ConfigError(f"model.n_critic must be at least 1 (discriminator steps per generator step), got {n_critic}")
        if gradient_clip_val is not None and gradient_clip_val <= 0:
            raise ConfigError(f"model.gradient_clip_val must be positive or null, got {gradient_clip_val}")
        self.automatic_optimization = False
        self.generator, self.discriminator, self.objective = generator, discriminator, objective
        self.optimizer_g, self.optimizer_d = optimizer_g, optimizer_d
        self.n_critic, self.gradient_clip_val = n_critic, gradient_clip_val
        if init_std:
            init_normal_(self.generator, init_std)
            init_normal_(self.discriminator, init_std)
        self._check_optimizers()

    def _check_optimizers(self) -> None:
        # Build both optimizers once now, so an impossible setting fails before any run directory fills up.
        for name, factory, net in (("optimizer_g", self.optimizer_g, self.generator),
                                   ("optimizer_d", self.optimizer_d, self.discriminator)):
            try:
                factory(net.parameters())
            except ValueError as err:
                raise ConfigError(f"model.{name}: {err}") from err

    @property
    def conditional(self) -> bool:
        """Whether the generator draws samples of a requested class."""
        return self.generator.num_classes > 0

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer_d(self.discriminator.parameters()), self.optimizer_g(self.generator.parameters())]

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I) on the module's device; drawn on `generator`'s device when one is given (reproducible)."""
        device = self.device if generator is None else generator.device
        return torch.randn(n, self.latent_dim, generator=generator, device=device).to(self.device)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, labels)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Samples (model space) from the generator in eval mode, i.e. with batch-norm running statistics."""
        with evaluating(self.generator) as generator:
            return generator(z.to(self.device), None if labels is None else labels.to(self.device))

    @torch.no_grad()
    def score(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The discriminator's verdict on samples (model space), in eval mode: D(x) as logged."""
        with evaluating(self.discriminator) as discriminator:
            return self.objective.score(discriminator(x.to(self.device), labels).logits)

    # ----------------------------------------------------------------------------------------------
    # The algorithm

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        real_images, labels = batch
        opt_d, opt_g = self.optimizers()
        real = self.discriminator_step(opt_d, real_images, labels)
        if (batch_idx + 1) % self.n_critic == 0:
            self.generator_step(opt_g, labels, real)

    def discriminator_step(self, optimizer, real_images: torch.Tensor, labels: torch.Tensor) -> Critique:
        with torch.no_grad():
            fake_images = self.generator(self.sample_noise(len(real_images)), labels)
        real = self.discriminator(real_images, labels)
        fake = self.discriminator(fake_images, labels)
        self._optimize(optimizer, self.discriminator_loss(real_images, fake_images, labels, real, fake), "d")
        self.after_discriminator_step()
        self.log_dict(self.discriminator_metrics(real, fake, labels), on_step=True, on_epoch=True, sync_dist=True)
        return Critique(*(None if t is None else t.detach() for t in real))

    def generator_step(self, optimizer, labels: torch.Tensor, real: Critique) -> None:
        with self.toggled_optimizer(optimizer):  # no gradients for D's weights while G learns
            fake = self.discriminator(self.generator(self.sample_noise(len(labels)), labels), labels)
            self._optimize(optimizer, self.generator_loss(fake, labels, real), "g")

    # ----------------------------------------------------------------------------------------------
    # What variants change

    def discriminator_loss(
        self, real_images: torch.Tensor, fake_images: torch.Tensor, labels: torch.Tensor, real: Critique, fake: Critique
    ) -> LossTerms:
        """Named loss terms of a discriminator step (summed for the update, each logged)."""
        return {"adv": self.objective.discriminator_loss(real.logits, fake.logits)}

    def generator_loss(self, fake: Critique, labels: torch.Tensor, real: Critique) -> LossTerms:
        """Named loss terms of a generator step; `real` is D's detached verdict on the last real batch."""
        return {"adv": self.objective.generator_loss(fake.logits)}

    def after_discriminator_step(self) -> None:
        """Runs after every discriminator update (e.g. weight clipping)."""

    @torch.no_grad()
    def discriminator_metrics(self, real: Critique, fake: Critique, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """What is logged about D's verdicts on the batch it just trained on."""
        return {
            "train/d_x": self.objective.score(real.logits).mean(),
            "train/d_g_z": self.objective.score(fake.logits).mean(),
            "train/acc_real": (real.logits > 0).float().mean(),
            "train/acc_fake": (fake.logits < 0).float().mean(),
        }

    # ----------------------------------------------------------------------------------------------

    def _optimize(self, optimizer, terms: LossTerms, net: str) -> None:
        loss = sum(terms.values())
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if self.gradient_clip_val is not None:
            self.clip_gradients(optimizer, gradient_clip_val=self.gradient_clip_val, gradient_clip_algorithm="norm")
        optimizer.step()
        self.log(f"train/loss_{net}", loss, on_step=True, on_epoch=True, prog_bar=True, sync_dist=True)
        details = {f"train/lr_{net}": optimizer.param_groups[0]["lr"]}
        if len(terms) > 1:
            details |= {f"train/loss_{net}_{name}": value for name, value in terms.items()}
        self.log_dict(details, on_step=True, on_epoch=True, sync_dist=True)
