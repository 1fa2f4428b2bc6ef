"""Generators and discriminators: plain nn.Modules that know nothing of training."""

from ganforge.nets.acgan import ACGANDiscriminator, ACGANGenerator
from ganforge.nets.classifier import ConvClassifier
from ganforge.nets.common import Critique, LabelEmbedding, init_normal_
from ganforge.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.nets.mlp import MLPDiscriminator, MLPGenerator

__all__ = [
    "ACGANDiscriminator",
    "ACGANGenerator",
    "ConvClassifier",
    "Critique",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "LabelEmbedding",
    "MLPDiscriminator",
    "MLPGenerator",
    "init_normal_",
]
