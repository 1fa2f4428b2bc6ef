"""The LightningModule every GAN variant is: alternating discriminator and generator steps.

A variant is this module configured: its nets, its adversarial objective and the regularisers it switches
on (gradient penalty, R1, weight clipping, auxiliary classification, feature matching, …), plus the options
any GAN may use: an EMA of the generator, differentiable augmentation, a learning-rate schedule.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Timer
from torch import nn

from ganforge.errors import ConfigError
from ganforge.losses import Objective, Regulariser, Round
from ganforge.models.ema import ExponentialMovingAverage
from ganforge.models.schedules import LinearDecay
from ganforge.nets.common import Critique, evaluating, init_normal_
from ganforge.nets.spectral_norm import one_sigma_per_step

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
LossTerms = dict[str, torch.Tensor]
LOOP_STATE_KEY = "ganforge_loop"


class GAN(L.LightningModule):
    """A generator and a discriminator trained in turns, with manual optimization.

    Every batch: G draws a batch of fakes; D takes one step on the real batch against them; after every
    `n_critic`-th D step (the first included), G then takes one step on those same fakes, D judging them
    anew. With `n_critic=5` the critic sees five real batches per generator step, as in Algorithm 1 of the
    WGAN paper. The step counters are saved in checkpoints, so the rhythm survives epoch ends and resumes.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        objective: Objective,
        optimizer_g: OptimizerFactory,
        optimizer_d: OptimizerFactory,
        n_critic: int = 1,
        regularisers: Mapping[str, Regulariser | None] | None = None,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        ema: ExponentialMovingAverage | None = None,
        lr_schedule: LinearDecay | None = None,
        init_std: float | None = 0.02,
        gradient_clip_val: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        if n_critic < 1:
            raise ConfigError(f"model.n_critic must be at least 1 (discriminator steps per generator step), got {n_critic}")
        if gradient_clip_val is not None and gradient_clip_val <= 0:
            raise ConfigError(f"model.gradient_clip_val must be positive or null, got {gradient_clip_val}")
        self.automatic_optimization = False
        self.generator, self.discriminator, self.objective = generator, discriminator, objective
        self.optimizer_g, self.optimizer_d, self.lr_schedule = optimizer_g, optimizer_d, lr_schedule
        self.n_critic, self.gradient_clip_val, self.channels_last = n_critic, gradient_clip_val, channels_last
        self.regularisers = {name: term for name, term in (regularisers or {}).items() if term is not None}
        self.augment = augment
        check_regularisers(self.regularisers, generator, discriminator)
        if init_std:
            init_normal_(self.generator, init_std)
            init_normal_(self.discriminator, init_std)
        self.ema = ema
        if ema is not None:
            ema.attach(generator)
        self._check_optimizers()
        self.discriminator_steps = self.generator_steps = 0
        self.seconds_before = 0.0  # of training, in the sessions before this one (resumes)
        self.session_start: float | None = None
        # Per set of logged names (a batch where G stepped logs more than one where it did not): the sums of their
        # values, stacked, and the number of batches summed.
        self._epoch_sums: dict[tuple[str, ...], tuple[torch.Tensor, int]] = {}

    def _check_optimizers(self) -> None:
        # Build both optimizers once now, so an impossible setting fails before any run directory fills up.
        for name, factory, net in (("optimizer_g", self.optimizer_g, self.generator),
                                   ("optimizer_d", self.optimizer_d, self.discriminator)):
            try:
                factory(net.parameters())
            except (ValueError, TypeError) as err:  # TypeError: a value of the wrong type, e.g. lr=abc
                raise ConfigError(f"model.{name}: {err}; give each setting a number (e.g. model.{name}.lr=2e-4)") from err

    @property
    def conditional(self) -> bool:
        """Whether the generator draws samples of a requested class."""
        return self.generator.num_classes > 0

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator samples are drawn from: the EMA of the weights when the model keeps one (its batch-norm
        statistics measured first whenever its weights have moved since)."""
        if self.ema is None:
            return self.generator
        self.ema.calibrate(self.calibration_inputs)
        return self.ema.average

    def calibration_inputs(self, draws: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A batch of noise (and labels of every class) from `draws`, to measure the EMA's statistics on."""
        n = self.ema.calibration_batch_size
        z = torch.randn(n, self.latent_dim, generator=draws).to(self.device)
        labels = torch.randint(0, self.generator.num_classes, (n,), generator=draws) if self.conditional else None
        return z, None if labels is None else labels.to(self.device)

    @property
    def sampling_weights(self) -> str:
        """Which weights `sample` uses: "ema" or "live" (recorded with every evaluation)."""
        return "live" if self.ema is None else "ema"

    def configure_optimizers(self) -> Any:
        optimizers = [self.optimizer_d(self.discriminator.parameters()), self.optimizer_g(self.generator.parameters())]
        if self.lr_schedule is None:
            return optimizers
        batches = self.trainer.estimated_stepping_batches
        time_spent = self.time_budget_spent()
        return optimizers, [self.lr_schedule(optimizer, batches, time_spent) for optimizer in optimizers]

    def time_budget_spent(self) -> Callable[[], float] | None:
        """The share of `trainer.max_time` used so far, by the clock that stops the run (None without a budget)."""
        timer = next((callback for callback in self.trainer.callbacks if isinstance(callback, Timer)), None)
        remaining = None if timer is None else timer.time_remaining("train")
        if remaining is None:
            return None
        budget = timer.time_elapsed("train") + remaining  # the whole of max_time; a resumed run's elapsed time counts
        return lambda: timer.time_elapsed("train") / budget

    @property
    def training_seconds(self) -> float:
        """Wall-clock seconds spent training so far, over every session of the run."""
        return self.seconds_before + (0.0 if self.session_start is None else time.monotonic() - self.session_start)

    def on_train_start(self) -> None:
        self.session_start = time.monotonic()

    def on_fit_start(self) -> None:
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I) on the module's device; drawn on `generator`'s device when one is given (reproducible)."""
        device = self.device if generator is None else generator.device
        return torch.randn(n, self.latent_dim, generator=generator, device=device).to(self.device)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.sampling_generator(z, labels)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Samples (model space) from the sampling generator in eval mode, i.e. with batch-norm running statistics."""
        with evaluating(self.sampling_generator) as generator:
            return generator(z.to(self.device), None if labels is None else labels.to(self.device))

    @torch.no_grad()
    def score(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The discriminator's verdict on samples (model space), in eval mode: D(x) as logged."""
        with evaluating(self.discriminator) as discriminator:
            labels = None if labels is None else labels.to(self.device)
            return self.objective.score(discriminator(x.to(self.device), labels).logits)

    def critic(self, samples: torch.Tensor, labels: torch.Tensor | None) -> Critique:
        """D as it is trained: on augmented samples when the model augments."""
        return self.discriminator(samples if self.augment is None else self.augment(samples), labels)

    # ----------------------------------------------------------------------------------------------
    # The algorithm

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        real, labels = batch
        if self.channels_last and real.ndim == 4:
            real = real.contiguous(memory_format=torch.channels_last)
        opt_d, opt_g = self.optimizers()
        # G steps after D steps 1, n+1, 2n+1, …: even a one-batch run trains both, and the ratio holds across epochs.
        generator_turn = self.discriminator_steps % self.n_critic == 0
        with torch.set_grad_enabled(generator_turn):  # G's step reuses these fakes
            fake = self.generator(self.sample_noise(len(real)), labels)
        with one_sigma_per_step():  # D's spectral norms: one estimate for its real and fake batch
            game, losses = self.discriminator_step(opt_d, real, fake.detach(), labels)
        if generator_turn:
            with one_sigma_per_step():  # and one for the weights D's step has just changed
                losses |= self.generator_step(opt_g, fake, game)
        for scheduler in self.schedulers():
            scheduler.step()
        self.log_step(losses, game)
        return losses

    def discriminator_step(self, optimizer, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor) -> tuple[Round, LossTerms]:
        """One update of D on a real and a (detached) fake batch; returns the round, D's verdicts detached."""
        self.discriminator_steps += 1
        game = Round(real, fake, labels, self.critic(real, labels), self.critic(fake, labels), self.critic)
        terms = {"adv": self.objective.discriminator_loss(game.real_verdict.logits, game.fake_verdict.logits)}
        terms |= self.regulariser_terms("discriminator_term", game, self.discriminator_steps)
        losses = self.optimize(optimizer, terms, "d")
        for regulariser in self.regularisers.values():
            regulariser.after_discriminator_step(self.discriminator)
        detached = [Critique(*(None if t is None else t.detach() for t in verdict))
                    for verdict in (game.real_verdict, game.fake_verdict)]
        return replace(game, real_verdict=detached[0], fake_verdict=detached[1]), losses

    def generator_step(self, optimizer, fake: torch.Tensor, game: Round) -> LossTerms:
        """One update of G through D's verdict on `fake` (which carries G's graph)."""
        self.generator_steps += 1
        with self.toggled_optimizer(optimizer):  # no gradients for D's weights while G learns
            game = replace(game, fake=fake, fake_verdict=self.critic(fake, game.labels))
            terms = {"adv": self.objective.generator_loss(game.fake_verdict.logits)}
            terms |= self.regulariser_terms("generator_term", game, self.generator_steps)
            losses = self.optimize(optimizer, terms, "g")
        if self.ema is not None:
            self.ema.update(self.generator, self.generator_steps)
        return losses

    def regulariser_terms(self, player: str, game: Round, step: int) -> LossTerms:
        """Each regulariser's weighted term for `player` ("discriminator_term"/"generator_term") due at `step`."""
        terms = {}
        for name, regulariser in self.regularisers.items():
            if regulariser.weight and step % regulariser.every == 0:
                term = getattr(regulariser, player)(game)
                if term is not None:
                    terms[name] = regulariser.weight * regulariser.every * term
        return terms

    def optimize(self, optimizer, terms: LossTerms, net: str) -> LossTerms:
        """Step `optimizer` on the sum of `terms`; return the loss and, where there are several, each term."""
        loss = sum(terms.values())
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if self.gradient_clip_val is not None:
            self.clip_gradients(optimizer, gradient_clip_val=self.gradient_clip_val, gradient_clip_algorithm="norm")
        optimizer.step()
        named = {f"loss_{net}": loss.detach()}
        if len(terms) > 1:
            named |= {f"loss_{net}_{name}": value.detach() for name, value in terms.items()}
        return named

    # ----------------------------------------------------------------------------------------------
    # Logging: sums on the device every step, values written every `log_every_n_steps` batches and
    # as epoch means, so the hot path never waits for the device.

    @torch.no_grad()
    def discriminator_metrics(self, game: Round) -> dict[str, torch.Tensor]:
        """What is logged about D's verdicts on the batch it just trained on."""
        real, fake = game.real_verdict, game.fake_verdict
        metrics = {
            "d_x": self.objective.score(real.logits).mean(),
            "d_g_z": self.objective.score(fake.logits).mean(),
            "acc_real": (real.logits > 0).float().mean(),
            "acc_fake": (fake.logits < 0).float().mean(),
        }
        if real.class_logits is not None:
            metrics["acc_class_real"] = (real.class_logits.argmax(1) == game.labels).float().mean()
        return metrics

    def schedulers(self) -> list:
        schedulers = self.lr_schedulers()
        return [] if schedulers is None else schedulers if isinstance(schedulers, list) else [schedulers]

    def log_step(self, losses: LossTerms, game: Round) -> None:
        values = losses | self.discriminator_metrics(game)
        names = tuple(values)  # one stacked sum per step, not one per value: every tensor operation costs ~10 µs here
        total, count = self._epoch_sums.get(names, (0, 0))
        self._epoch_sums[names] = (total + torch.stack([value.float() for value in values.values()]), count + 1)
        if self.discriminator_steps % self.trainer.log_every_n_steps:
            return
        opt_d, opt_g = self.optimizers()
        values |= {"lr_d": opt_d.param_groups[0]["lr"], "lr_g": opt_g.param_groups[0]["lr"]}
        scalars = {f"train/{name}": float(value) for name, value in values.items()}
        for logger in self.loggers:
            logger.log_metrics(scalars, step=self.discriminator_steps)
        bar = {name: scalars[f"train/{name}"] for name in ("loss_d", "loss_g") if f"train/{name}" in scalars}
        self.log_dict(bar, prog_bar=True, logger=False)

    def on_train_batch_end(self, outputs: LossTerms, batch: Any, batch_idx: int) -> None:
        if self.trainer.is_last_batch and self.trainer.world_size > 1:
            self.share_first_ranks_buffers()

    def share_first_ranks_buffers(self) -> None:
        """Give every process rank 0's buffers (batch-norm statistics, the EMA copy's, spectral norms' vectors).

        DDP hands them out before each step, so after an epoch's last step each rank would keep the statistics of
        its own last batch; from here on (checkpoints, previews, val/fid_domain measured on every rank) all ranks
        hold one model. Once per epoch, before the epoch-end callbacks.
        """
        buffers = list(self.buffers())
        if buffers:  # the MLP nets have none
            torch._foreach_copy_(buffers, self.trainer.strategy.broadcast(buffers, src=0))

    def on_train_epoch_end(self) -> None:
        if self._epoch_sums:
            sums: dict[str, torch.Tensor] = {}
            counts: dict[str, int] = {}
            for names, (total, count) in self._epoch_sums.items():
                for name, value in zip(names, total):
                    sums[name], counts[name] = sums.get(name, 0) + value, counts.get(name, 0) + count
            means = {f"train/{name}_epoch": sums[name] / counts[name] for name in sums}
            opt_d, opt_g = self.optimizers()
            means |= {"train/lr_d_epoch": opt_d.param_groups[0]["lr"], "train/lr_g_epoch": opt_g.param_groups[0]["lr"]}
            self.log_dict(means, sync_dist=True)
        self._epoch_sums = {}

    # ----------------------------------------------------------------------------------------------
    # Exact resume: the step counters and every random number generator travel with the checkpoint.

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.ema is not None:  # the saved average carries statistics measured for its own weights
            self.ema.calibrate(self.calibration_inputs)
            for name, buffer in self.ema.average.named_buffers():
                checkpoint["state_dict"][f"ema.average.{name}"] = buffer.detach().clone()
        checkpoint[LOOP_STATE_KEY] = {
            "discriminator_steps": self.discriminator_steps,
            "generator_steps": self.generator_steps,
            "training_seconds": self.training_seconds,
            "rng": random_states(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get(LOOP_STATE_KEY)
        if state is None:
            return
        self.discriminator_steps, self.generator_steps = state["discriminator_steps"], state["generator_steps"]
        self.seconds_before = state["training_seconds"]
        restore_random_states(state["rng"])


def check_regularisers(regularisers: Mapping[str, Regulariser], generator: nn.Module, discriminator: nn.Module) -> None:
    """A one-line ConfigError for a regulariser that cannot work as configured, naming its config key."""
    mixing = sorted({type(m).__name__ for m in discriminator.modules()
                     if isinstance(m, nn.modules.batchnorm._BatchNorm)
                     or isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0})
    for name, term in regularisers.items():
        key = f"model.regularisers.{name}"
        if term.weight < 0:
            raise ConfigError(f"{key}.weight must be 0 (off) or positive, got {term.weight}")
        if term.every < 1:
            raise ConfigError(f"{key}.every must be at least 1 step, got {term.every}")
        if term.needs_conditional_generator and not generator.num_classes:
            raise ConfigError(f"{key} compares fakes with the class G was asked for, but this generator is "
                              f"unconditional; choose a conditional model (e.g. model=acgan_conditional) or set {key}=null")
        if term.needs_per_sample_gradients and term.weight and mixing:
            raise ConfigError(
                f"{key} penalises D's gradient sample by sample, but the discriminator has {' and '.join(mixing)}; "
                f"set model.discriminator.batch_norm=false and model.discriminator.dropout=0 (or use layer norm), "
                f"or set {key}=null"
            )


def random_states() -> dict[str, Any]:
    """Every random number generator training draws from, as tensors and plain values."""
    numpy_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]],
        "python": random.getstate(),
    }


def restore_random_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    name, keys, *rest = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
