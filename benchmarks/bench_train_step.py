"""Training speed of the base GAN module in a Lightning Trainer against a bare PyTorch loop doing the same maths.

The ratio is the price of Lightning, logging and the module's structure; both run in one process on the
same batches, so it holds on a busy machine where absolute times do not.
"""

from __future__ import annotations

import functools
import time

import lightning as L
import torch
import torch.nn.functional as F

from ganforge.losses import NonSaturating
from ganforge.models import GAN
from ganforge.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator

BATCH, STEPS = 128, 100


def make_gan(nets: str) -> GAN:
    adam = functools.partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999))
    if nets == "mlp":
        generator, discriminator = MLPGenerator(), MLPDiscriminator()
    else:
        generator, discriminator = DCGANGenerator(channels=(128, 64, 32)), DCGANDiscriminator(channels=(32, 64))
    return GAN(generator, discriminator, NonSaturating(), optimizer_g=adam, optimizer_d=adam)


def batches() -> torch.utils.data.DataLoader:
    images = torch.rand(BATCH * (STEPS + 1), 1, 28, 28) * 2 - 1
    dataset = torch.utils.data.TensorDataset(images, torch.zeros(len(images), dtype=torch.long))
    return torch.utils.data.DataLoader(dataset, batch_size=BATCH)


def lightning_seconds(nets: str) -> float:
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=STEPS + 1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    model = make_gan(nets)
    start = time.perf_counter()
    trainer.fit(model, train_dataloaders=batches())
    return time.perf_counter() - start


def bare_seconds(nets: str) -> float:
    model = make_gan(nets)
    opt_d, opt_g = model.configure_optimizers()
    start = time.perf_counter()
    for real, labels in batches():
        z = torch.randn(BATCH, model.latent_dim)
        with torch.no_grad():
            fake = model.generator(z, labels)
        real_logits, fake_logits = model.discriminator(real).logits, model.discriminator(fake).logits
        loss_d = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + \
            F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        fake_logits = model.discriminator(model.generator(torch.randn(BATCH, model.latent_dim))).logits
        loss_g = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    return time.perf_counter() - start


def main() -> None:
    torch.manual_seed(0)
    for nets in ("mlp", "dcgan"):
        bare_seconds(nets)  # warm-up
        bare, ours = bare_seconds(nets), lightning_seconds(nets)
        print(f"{nets:6s} {STEPS + 1} batches of {BATCH}: bare PyTorch {bare:6.2f} s, ganforge GAN in Lightning "
              f"{ours:6.2f} s, ratio {ours / bare:.2f}")


if __name__ == "__main__":
    main()
