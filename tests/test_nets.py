"""Shapes and contracts of the generators and discriminators."""

from __future__ import annotations

import pytest
import torch

from ganforge.errors import ConfigError
from ganforge.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, init_normal_

N = 6


@pytest.mark.parametrize("num_classes", [0, 10])
@pytest.mark.parametrize(
    "generator_cls, discriminator_cls, shape",
    [
        (MLPGenerator, MLPDiscriminator, (1, 28, 28)),
        (MLPGenerator, MLPDiscriminator, (2,)),
        (DCGANGenerator, DCGANDiscriminator, (1, 28, 28)),
        (DCGANGenerator, DCGANDiscriminator, (3, 32, 32)),
    ],
)
def test_generator_and_discriminator_shapes(generator_cls, discriminator_cls, shape, num_classes):
    shape_arg = "sample_shape" if generator_cls is MLPGenerator else "image_shape"
    generator = generator_cls(**{shape_arg: shape}, num_classes=num_classes)
    discriminator = discriminator_cls(**{shape_arg: shape}, num_classes=num_classes)
    labels = torch.arange(N) % 10 if num_classes else None
    fake = generator(torch.randn(N, generator.latent_dim), labels)
    assert fake.shape == (N, *shape)
    critique = discriminator(fake, labels)
    assert critique.logits.shape == (N,)
    assert critique.features.ndim == 2 and critique.features.shape[0] == N
    assert critique.class_logits is None


def test_image_generators_squash_to_unit_range():
    for generator in (MLPGenerator(), DCGANGenerator()):
        assert generator(torch.randn(N, generator.latent_dim) * 100).abs().max() <= 1.0


def test_label_changes_conditional_output():
    generator = MLPGenerator(num_classes=10).eval()
    z = torch.randn(1, generator.latent_dim).repeat(2, 1)
    out = generator(z, torch.tensor([3, 7]))
    assert not torch.allclose(out[0], out[1])


def test_dcgan_lab_architecture():
    generator = DCGANGenerator()
    assert generator.base_size == 7 and generator.project[0].out_features == 7 * 7 * 256
    widths = [m.out_channels for m in generator.upsample if isinstance(m, torch.nn.ConvTranspose2d)]
    assert widths == [128, 64, 1]
    discriminator = DCGANDiscriminator()
    assert [m.out_channels for m in discriminator.body if isinstance(m, torch.nn.Conv2d)] == [64, 128]
    assert discriminator.head.in_features == 128 * 7 * 7


def test_course_mlp_sizes():
    generator, discriminator = MLPGenerator(), MLPDiscriminator()
    assert [m.out_features for m in generator.modules() if isinstance(m, torch.nn.Linear)] == [256, 512, 1024, 784]
    assert [m.out_features for m in discriminator.modules() if isinstance(m, torch.nn.Linear)] == [512, 256, 1]


def test_dcgan_rejects_sizes_it_cannot_build():
    with pytest.raises(ConfigError, match="divides by"):
        DCGANGenerator(image_shape=(1, 30, 30))
    with pytest.raises(ConfigError, match="odd"):
        DCGANDiscriminator(kernel_size=4)


def test_normal_init_statistics():
    generator = DCGANGenerator()
    init_normal_(generator, 0.02)
    weights = torch.cat([m.weight.flatten() for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(weights.mean()) < 1e-3 and 0.018 < weights.std() < 0.022
    batch_norm = generator.project[1]
    assert abs(batch_norm.weight.mean() - 1) < 0.01 and torch.all(batch_norm.bias == 0)
