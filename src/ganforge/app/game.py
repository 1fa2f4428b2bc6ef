"""The "real or fake?" game: one image at a time, real or generated; the player and the discriminator both judge it.

`GameStats` and `verdict` are pure; `RoundDealer` draws rounds from a loaded checkpoint.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ganforge.app.loading import AppModel
from ganforge.app.playground import Canvas, Picture, seed_latents


@dataclass(frozen=True)
class Round:
    """One image of the game and what is known about it (kept on the server until the player guesses)."""

    is_real: bool
    label: int | None  # the true class of a real image, the requested class of a fake; None when unknown
    d_score: float  # GAN.score: D's probability "real" (a critic value under Wasserstein or hinge objectives)
    d_says_real: bool  # D's verdict: its logit is positive
    predicted: int | None  # the class predicted for the image; None without a class predictor
    predictor: str  # what predicted it ("D's class head", "domain classifier"), or why nothing did


SAYINGS = ("real", "fake")  # what an image is, and what a judge can say of it
JUDGES = ("you", "D")


@dataclass(frozen=True)
class GameStats:
    """Running counts of one player's session: for each truth, what the player and D said."""

    # (truth, judge, what the judge said) → rounds, e.g. ("fake", "D", "real"): fakes D took for real
    counts: Mapping[tuple[str, str, str], int] = field(default_factory=dict)

    def record(self, is_real: bool, you_say_real: bool, d_says_real: bool) -> GameStats:
        """The statistics with one more judged round."""
        counts, truth = Counter(self.counts), word(is_real)
        counts[truth, "you", word(you_say_real)] += 1
        counts[truth, "D", word(d_says_real)] += 1
        return GameStats(dict(counts))

    def count(self, truth: str, judge: str, said: str) -> int:
        return self.counts.get((truth, judge, said), 0)

    def rounds(self, truth: str | None = None) -> int:
        """Rounds played, of one truth ("real" or "fake") or of both."""
        return sum(self.count(t, "you", said) for t in ((truth,) if truth else SAYINGS) for said in SAYINGS)

    def accuracy(self, judge: str, truth: str | None = None) -> float | None:
        """The fraction of rounds `judge` got right (of one truth, or all); None before any such round."""
        right = sum(self.count(t, judge, t) for t in ((truth,) if truth else SAYINGS))
        played = self.rounds(truth)
        return right / played if played else None

    def summary(self) -> str:
        """Accuracies and a confusion table, as Markdown."""
        lines = [
            f"**Rounds:** {self.rounds()} ({self.rounds('real')} real, {self.rounds('fake')} fake)  ",
            f"**Your accuracy:** {percent(self.accuracy('you'))}  ",
            f"**D's accuracy:** on real {percent(self.accuracy('D', 'real'))}, "
            f"on fake {percent(self.accuracy('D', 'fake'))}",
            "",
            "| truth | you: real | you: fake | D: real | D: fake |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for truth in SAYINGS:
            cells = [str(self.count(truth, judge, said)) for judge in JUDGES for said in SAYINGS]
            lines.append(f"| {truth} | {' | '.join(cells)} |")
        return "\n".join(lines)


@dataclass(frozen=True)
class GameSession:
    """One player's state: the statistics and the round waiting for a guess."""

    stats: GameStats = field(default_factory=GameStats)
    pending: Round | None = None

    def guess(self, you_say_real: bool, class_names: Sequence[str]) -> tuple[GameSession, str]:
        """The session after the player's guess on the pending round, and the verdict to show."""
        if self.pending is None:
            return self, "Press **Next image** first: there is no image waiting for a guess."
        played = self.pending
        stats = self.stats.record(played.is_real, you_say_real, played.d_says_real)
        return GameSession(stats, None), verdict(played, you_say_real, class_names)


def word(real: bool) -> str:
    return "real" if real else "fake"


def percent(fraction: float | None) -> str:
    return "–" if fraction is None else f"{100 * fraction:.0f}%"


def class_name(label: int | None, class_names: Sequence[str]) -> str:
    return class_names[label] if label is not None and label < len(class_names) else "?"


def verdict(played: Round, you_say_real: bool, class_names: Sequence[str]) -> str:
    """What the page reveals after a guess, as Markdown."""
    named = "" if played.label is None else class_name(played.label, class_names)
    if played.is_real:
        origin = "a test image" + (f" of class {named}" if named else "")
    else:
        origin = "generated" + (f", asked for class {named}" if named else "")
    right, d_right = you_say_real == played.is_real, played.d_says_real == played.is_real
    lines = [
        f"### {'Right' if right else 'Wrong'}: it was {word(played.is_real).upper()} ({origin}).",
        f"D(x) = {played.d_score:.3f}: D says **{word(played.d_says_real)}** ({'right' if d_right else 'wrong'}).  ",
    ]
    if played.predicted is None:
        lines.append(f"Predicted class: none ({played.predictor}).")
    else:
        lines.append(f"Predicted class: **{class_name(played.predicted, class_names)}** ({played.predictor}).")
    return "\n".join(lines)


class RoundDealer:
    """Draws rounds from a checkpoint: a random test image or a sample, 50/50, judged by D.

    One dealer serves every session; its random stream is shared and locked (rounds need not repeat per session).
    """

    def __init__(self, model: AppModel, canvas: Canvas, seed: int | None = None) -> None:
        self.model, self.canvas = model, canvas
        self.test_images, self.test_labels = model.test_split()
        self.rng = np.random.default_rng(seed)
        self.lock = threading.Lock()

    def draw(self, label: int | None = None) -> tuple[Round, Picture]:
        """A new round and its picture: for a conditional model of class `label`, or of a random class when None."""
        model = self.model
        with self.lock:
            is_real = bool(self.rng.integers(2))
            if not model.gan.conditional:
                label = None  # the real image is then any test image, as the samples are of any class
            elif label is None:
                label = int(self.rng.integers(len(model.class_names)))
            everything = torch.arange(len(self.test_labels))
            pool = everything if label is None else everything[self.test_labels == label]
            index = int(pool[self.rng.integers(len(pool))]) if len(pool) else None
            noise_seed = int(self.rng.integers(2**31))
        if is_real and index is not None:
            image = self.test_images[index]
            label = int(self.test_labels[index]) if model.class_names else None
        else:
            is_real = False  # a class without test images can only be drawn as a fake
            labels = None if label is None else torch.tensor([label])
            image = model.render(seed_latents(model.gan, [noise_seed]), labels)[0]
        judged = model.judge(image, label)
        played = Round(is_real, label, judged.d_score, judged.d_says_real, judged.predicted, judged.predictor)
        return played, self.canvas.tile(image[None], columns=1)
