"""Shapes and contracts of the generators and discriminators."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from conftest import ROOT
from ganforge.errors import ConfigError
from ganforge.nets import (
    ACGANDiscriminator,
    ACGANGenerator,
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    SNGANGenerator,
    init_normal_,
)
from ganforge.nets.common import grid_halvings, widths_toward_image
from ganforge.nets.layers import Dropout, MinibatchStd

N = 6
# Every model config that draws images (the toy GAN draws points; the classifier draws nothing).
IMAGE_MODELS = sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml") if p.stem not in ("toy", "classifier"))


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
    assert generator.project.grid_shape == (256, 7, 7) and generator.project.body[0].out_features == 7 * 7 * 256
    widths = [m.out_channels for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert widths == [128, 64, 1]
    discriminator = DCGANDiscriminator()
    assert [m.out_channels for m in discriminator.body if isinstance(m, torch.nn.Conv2d)] == [64, 128]
    assert discriminator.head.linear.in_features == 128 * 7 * 7


def test_course_mlp_sizes():
    generator, discriminator = MLPGenerator(), MLPDiscriminator()
    assert [m.out_features for m in generator.modules() if isinstance(m, torch.nn.Linear)] == [256, 512, 1024, 784]
    assert [m.out_features for m in discriminator.modules() if isinstance(m, torch.nn.Linear)] == [512, 256, 1]


def test_dcgan_rejects_sizes_it_cannot_build():
    for generator_cls in (DCGANGenerator, ACGANGenerator):
        with pytest.raises(ConfigError, match="must be even"):
            generator_cls(image_shape=(1, 27, 27))
        with pytest.raises(ConfigError, match="must be even and larger"):
            generator_cls(image_shape=(1, 6, 6))
    with pytest.raises(ConfigError, match="odd"):
        DCGANDiscriminator(kernel_size=4)
    with pytest.raises(ConfigError, match="positive widths"):
        DCGANGenerator(channels=[])


@pytest.mark.parametrize(
    "side, coarsest, exact, halvings, grid",
    [(28, 7, True, 2, 7), (32, 7, True, 3, 4), (64, 7, True, 4, 4), (128, 7, True, 5, 4), (30, 7, True, 1, 15),
     (28, 2, False, 4, 2), (30, 7, False, 3, 4), (64, 2, False, 5, 2)],
)
def test_grid_halves_until_its_side_is_small(side, coarsest, exact, halvings, grid):
    assert grid_halvings((1, side, side), coarsest, exact) == (halvings, (grid, grid))


def test_one_channel_list_serves_every_depth():
    assert widths_toward_image([512, 256, 128, 64], 3) == [256, 128, 64]
    assert widths_toward_image([512, 256, 128, 64], 5) == [512, 512, 256, 128, 64]
    assert widths_toward_image([64], 2) == [64, 64]


@pytest.mark.parametrize("side, grid, doublings", [(28, 7, 2), (32, 4, 3), (64, 4, 4), (128, 4, 5)])
def test_depth_follows_the_image_size(side, grid, doublings):
    generator = DCGANGenerator(image_shape=(3, side, side), channels=[512, 256, 128, 64])
    upsampling = [m for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert generator.project.grid_shape[1:] == (grid, grid)
    assert [m.stride[0] for m in upsampling] == [1] + [2] * doublings
    assert [m.out_channels for m in upsampling][-3:] == [128, 64, 3]  # the fine end of the list is always kept
    discriminator = DCGANDiscriminator(image_shape=(3, side, side), channels=[64, 128, 256, 512])
    convs = [m for m in discriminator.body if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == doublings and convs[0].out_channels == 64
    assert discriminator.head.linear.in_features == convs[-1].out_channels * grid * grid
    acgan_generator = ACGANGenerator(image_shape=(3, side, side))
    assert acgan_generator.project.grid_shape[1:] == (grid, grid)
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in acgan_generator.synthesis) == doublings


def test_acgan_discriminator_ends_at_two_by_two():
    for side, convs in ((28, 4), (32, 4), (64, 5)):
        discriminator = ACGANDiscriminator(image_shape=(1, side, side), num_classes=3)
        widths = [m.out_channels for m in discriminator.body if isinstance(m, torch.nn.Conv2d)]
        assert widths == [64, 128, 256, 512, 512][:convs]
        assert discriminator.validity.in_features == widths[-1] * 2 * 2


@pytest.mark.parametrize("shape", [(1, 32, 32), (3, 32, 32), (1, 64, 64), (3, 64, 64)])
@pytest.mark.parametrize("model", IMAGE_MODELS)
def test_every_image_model_config_builds_nets_for_the_data_size(compose_config, image_folder, model, shape):
    """The nets of each image model, from its config, at the size data.sample_shape alone sets: one forward/backward."""
    cfg = compose_config([f"model={model}", "data=folder", f"data.path={image_folder}",
                          f"data.sample_shape=[{','.join(map(str, shape))}]"])
    torch.manual_seed(0)
    generator, discriminator = instantiate(cfg.model.generator), instantiate(cfg.model.discriminator)
    labels = torch.arange(4) % 2  # the folder's two classes
    fake = generator(torch.randn(4, generator.latent_dim), labels)
    assert fake.shape == (4, *shape)
    critique = discriminator(fake, labels)
    assert critique.logits.shape == (4,)
    loss = critique.logits.mean()
    if critique.class_logits is not None:
        loss = loss + critique.class_logits.logsumexp(1).mean()
    loss.backward()
    for net in (generator, discriminator):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters() if p.requires_grad)
    assert any(p.grad.abs().sum() > 0 for p in generator.parameters())


def test_normal_init_statistics():
    generator = DCGANGenerator()
    init_normal_(generator, 0.02)
    weights = torch.cat([m.weight.flatten() for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(weights.mean()) < 1e-3 and 0.018 < weights.std() < 0.022
    batch_norm = generator.project.body[1]
    assert abs(batch_norm.weight.mean() - 1) < 0.01 and torch.all(batch_norm.bias == 0)


def test_normal_init_keeps_the_per_class_scales_of_conditional_batch_norm():
    # The batch norms under a per-class scale and shift own no weight of their own: init must not touch them.
    generator = SNGANGenerator(num_classes=10, conditioning="batch_norm")
    init_normal_(generator, 0.02)
    assert all(torch.all(norm.scale.weight == 1) and torch.all(norm.shift.weight == 0) for norm in generator.norms)
    assert generator(torch.randn(4, generator.latent_dim), torch.arange(4)).shape == (4, 1, 28, 28)


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_dropout_drops_a_share_p_and_scales_the_rest(p):
    torch.manual_seed(0)
    layer = Dropout(p).train()
    x = torch.rand(500_000) + 1.0  # no zeros of its own
    y = layer(x)
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - p) < 4 * (p * (1 - p) / len(x)) ** 0.5 + 1 / 65536
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / (1 - p))


def test_dropout_passes_gradients_through_its_mask_and_is_the_identity_in_eval():
    layer = Dropout(0.3).train()
    x = torch.randn(4, 8, 6, 6, requires_grad=True)
    torch.manual_seed(1)
    y = layer(x)
    y.sum().backward()
    assert torch.allclose(x.grad, (y != 0).float() / 0.7)
    torch.manual_seed(1)
    assert torch.equal(layer(x), y)  # the same seed draws the same mask
    assert torch.equal(layer.eval()(x), x)


def test_minibatch_std_appends_each_groups_spread():
    features = torch.tensor([[0.0, 0.0], [2.0, 4.0], [1.0, 1.0], [1.0, 1.0], [5.0, 5.0], [7.0, 5.0]])
    out = MinibatchStd(group_size=2)(features)
    assert torch.equal(out[:, :2], features)
    # groups (rows 0-1), (2-3), (4-5): per-feature population std (1, 2), (0, 0), (1, 0), averaged over features
    assert torch.allclose(out[:, 2], torch.tensor([1.5, 1.5, 0.0, 0.0, 0.5, 0.5]), atol=1e-3)
    assert torch.allclose(MinibatchStd(group_size=4)(features)[:, 2], out[:, 2], atol=1e-3)  # gcd(6, 4) = 2


def test_discriminator_with_minibatch_std_tells_a_collapsed_batch_from_a_varied_one():
    torch.manual_seed(0)
    critic = MLPDiscriminator((1, 28, 28), hidden_dims=(32, 16), num_classes=10, conditioning="projection",
                              minibatch_std_group=4)
    varied = torch.randn(8, 1, 28, 28)
    collapsed = varied[:1].expand(8, -1, -1, -1)
    labels = torch.zeros(8, dtype=torch.long)
    spread_varied, spread_collapsed = critic(varied, labels).features[:, -1], critic(collapsed, labels).features[:, -1]
    assert torch.all(spread_collapsed < 1e-3) and torch.all(spread_varied > 1e-2)
