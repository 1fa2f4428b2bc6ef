"""What the players minimise: adversarial objectives, and regularisers any GAN switches on by config."""

from ganforge.losses.objectives import Hinge, NonSaturating, Objective, Wasserstein
from ganforge.losses.regularisers import (
    ClassEntropy,
    ClassifyFake,
    ClassifyReal,
    FeatureMatching,
    GradientPenalty,
    R1Penalty,
    Regulariser,
    Round,
    WeightClipping,
    class_entropy,
    feature_matching,
    gradient_penalty,
    r1_penalty,
)

__all__ = [
    "ClassEntropy",
    "ClassifyFake",
    "ClassifyReal",
    "FeatureMatching",
    "GradientPenalty",
    "Hinge",
    "NonSaturating",
    "Objective",
    "R1Penalty",
    "Regulariser",
    "Round",
    "Wasserstein",
    "WeightClipping",
    "class_entropy",
    "feature_matching",
    "gradient_penalty",
    "r1_penalty",
]
