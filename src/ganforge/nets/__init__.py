"""Generators and discriminators: plain nn.Modules that know nothing of training."""

from ganforge.nets.acgan import ACGANDiscriminator, ACGANGenerator
from ganforge.nets.classifier import ConvClassifier
from ganforge.nets.common import Critique, LabelEmbedding, init_normal_
from ganforge.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.nets.layers import ConditionalBatchNorm2d, ProjectionHead
from ganforge.nets.mlp import MLPDiscriminator, MLPGenerator
from ganforge.nets.sngan import SNGANDiscriminator, SNGANGenerator

__all__ = [
    "ACGANDiscriminator",
    "ACGANGenerator",
    "ConditionalBatchNorm2d",
    "ConvClassifier",
    "Critique",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "LabelEmbedding",
    "MLPDiscriminator",
    "MLPGenerator",
    "ProjectionHead",
    "SNGANDiscriminator",
    "SNGANGenerator",
    "init_normal_",
]
