"""The page: three tabs (Real or fake?, Playground, Compare) wired to the game and the playground.

Importing this module imports Gradio; `ganforge.app.server` first switches off everything Gradio would fetch.
Each event has an API name, so the page can be driven from Python with gradio_client as well.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ganforge.app.game import GameSession, GameStats, RoundDealer
from ganforge.app.loading import AppModel, ModelCache, find_evaluation, list_checkpoints, metrics_markdown
from ganforge.app.playground import (
    Canvas,
    Picture,
    arithmetic_picture,
    class_interpolation,
    parse_seeds,
    grid_caption,
    sample_grid,
    seed_interpolation,
)
from ganforge.errors import GanforgeError

ANY_CLASS = -1  # the class choice meaning "a random class" in the game and "every class" in the playground
# Tiny images stay crisp when the browser scales them; the game's image fills its box.
CSS = """
img { image-rendering: pixelated; }
#round-image img { width: 100%; height: 100%; object-fit: contain; }
#verdict h3 { margin-top: 0; }
"""
MODEL_QUEUE = "model"  # the events that run the model share one worker: class blending hooks the shared model
Classes = list[tuple[str, int]]  # (name, index) choices


@dataclass(frozen=True)
class PageSettings:
    """What the page offers: sample counts, the truncation range, how long pictures are kept, and where runs and
    evaluations are found."""

    samples: int
    max_samples: int
    max_truncation: float
    compare_samples: int
    keep_files: int  # seconds
    train_dir: Path
    eval_dir: Path


def shown_errors(handler: Callable[..., Any]) -> Callable[..., Any]:
    """A user error inside `handler` becomes Gradio's error pop-up with the one-line message."""

    @functools.wraps(handler)
    def wrapper(*args: Any) -> Any:
        try:
            return handler(*args)
        except GanforgeError as err:
            raise gr.Error(str(err), print_exception=False) from err  # the user's mistake: no traceback in the log

    return wrapper


def class_choice(choice: int | None) -> int | None:
    return None if choice is None or int(choice) == ANY_CLASS else int(choice)


def truncation(value: float | None) -> float | None:
    return float(value) if value else None


def picture(label: str, elem_id: str, **options: Any) -> gr.Image:
    """An output image shown as PNG, with a download button."""
    return gr.Image(label=label, format="png", interactive=False, buttons=["download"], elem_id=elem_id, **options)


def build_page(model: AppModel, dealer: RoundDealer, canvas: Canvas, cache: ModelCache,
               settings: PageSettings) -> gr.Blocks:
    """The app's page for `model` (the checkpoint given on the command line)."""
    classes = [(name, index) for index, name in enumerate(model.class_names)]
    keep = (settings.keep_files, settings.keep_files)
    with gr.Blocks(title="ganforge", analytics_enabled=False, delete_cache=keep) as page:
        gr.Markdown(f"## ganforge: what does this GAN do?\n{model.describe()}", elem_id="header")
        with gr.Tab("Real or fake?"):
            real_or_fake_tab(page, model, dealer, classes)
        with gr.Tab("Playground"):
            playground_tab(model, canvas, settings, classes)
        with gr.Tab("Compare"):
            compare_tab(model, canvas, cache, settings)
    return page


def real_or_fake_tab(page: gr.Blocks, model: AppModel, dealer: RoundDealer, classes: Classes) -> None:
    gr.Markdown(
        "Half of the images are real (the test split), half generated. Guess, then see the truth, what the "
        "discriminator says (D(x): its probability \"real\", or a critic value for Wasserstein and hinge models; "
        "D says real when its logit is positive) and the class predicted for the image."
    )
    session = gr.State(GameSession())
    with gr.Row():
        with gr.Column():
            image = gr.Image(label="Real or fake?", format="png", interactive=False, buttons=[], height=320,
                             elem_id="round-image")
        with gr.Column():
            wanted = gr.Dropdown([("random class", ANY_CLASS), *classes], value=ANY_CLASS, label="Class",
                                 visible=model.gan.conditional)
            draw = gr.Button("Next image", variant="primary", elem_id="next-image")
            with gr.Row():
                say_real = gr.Button("Real", elem_id="guess-real")
                say_fake = gr.Button("Fake", elem_id="guess-fake")
            verdict = gr.Markdown(elem_id="verdict")
            stats = gr.Markdown(GameStats().summary(), elem_id="stats")

    @shown_errors
    def next_round(state: GameSession, choice: int | None) -> tuple[GameSession, Picture, str]:
        played, shown = dealer.draw(class_choice(choice))
        return GameSession(state.stats, played), shown, "Real or fake? Make your guess."

    def guess(you_say_real: bool, state: GameSession) -> tuple[GameSession, str, str]:
        state, said = state.guess(you_say_real, model.class_names)
        return state, said, state.stats.summary()

    round_outputs = [session, image, verdict]
    draw.click(next_round, [session, wanted], round_outputs, api_name="next_image", concurrency_id=MODEL_QUEUE)
    page.load(next_round, [session, wanted], round_outputs, api_visibility="private", concurrency_id=MODEL_QUEUE)
    for button, says_real in ((say_real, True), (say_fake, False)):
        button.click(functools.partial(guess, says_real), [session], [session, verdict, stats],
                     api_name=f"guess_{'real' if says_real else 'fake'}")


def playground_tab(model: AppModel, canvas: Canvas, settings: PageSettings, classes: Classes) -> None:
    conditional = model.gan.conditional
    with gr.Row():
        wanted = gr.Dropdown([("every class", ANY_CLASS), *classes], value=ANY_CLASS, label="Class",
                             visible=conditional)
        seed = gr.Number(0, precision=0, minimum=0, label="Seed (of the first sample)")
        count = gr.Slider(1, settings.max_samples, settings.samples, step=1,
                          label="Samples (per class for every class)" if conditional else "Samples")
        cut = gr.Slider(0, settings.max_truncation, 0, step=0.1, label="Truncation (0 = off)")
    draw = gr.Button("Draw", variant="primary", elem_id="draw-grid")
    grid = picture("Samples (download: PNG)", "grid")
    caption = gr.Markdown(elem_id="grid-caption")

    gr.Markdown("### Interpolation")
    with gr.Row():
        mode = gr.Radio(["seeds", "classes"] if conditional else ["seeds"], value="seeds", label="Between")
        first_seed = gr.Number(1, precision=0, minimum=0, label="Seed a (the z of both ends between classes)")
        second_seed = gr.Number(2, precision=0, minimum=0, label="Seed b")
        first_class = gr.Dropdown(classes, value=classes[0][1] if classes else None, label="Class a",
                                  visible=conditional)
        second_class = gr.Dropdown(classes, value=classes[-1][1] if classes else None, label="Class b",
                                   visible=conditional)
    with gr.Row(equal_height=True):
        t = gr.Slider(0, 1, 0.5, step=0.05, label="t (0: a, 1: b)", scale=4)
        go = gr.Button("Interpolate", elem_id="interpolate", scale=1)
    between = picture("Interpolated", "interpolation")

    gr.Markdown("### Latent arithmetic: a − b + c\n"
                "Each term is one or more seeds (e.g. `3, 17, 42`); their z are averaged.")
    with gr.Row():
        terms = [gr.Textbox(value, label=name) for value, name in (("1", "a"), ("2", "b"), ("3", "c"))]
    compute = gr.Button("a − b + c", elem_id="combine")
    arithmetic = picture("a, b, c and a − b + c", "arithmetic")

    @shown_errors
    def draw_grid(choice: int | None, first: float, samples: float, threshold: float) -> tuple[Picture, str]:
        label, first, samples = class_choice(choice), int(first), int(samples)
        shown = sample_grid(model, canvas, first, samples, label, truncation(threshold))
        return shown, grid_caption(model, first, samples, label)

    @shown_errors
    def interpolate(how: str, a: float, b: float, class_a: int, class_b: int, choice: int | None, at: float,
                    threshold: float) -> Picture:
        if how == "classes":
            return class_interpolation(model, canvas, int(a), int(class_a), int(class_b), at, truncation(threshold))
        return seed_interpolation(model, canvas, int(a), int(b), at, class_choice(choice), truncation(threshold))

    @shown_errors
    def combine(a: str, b: str, c: str, choice: int | None, threshold: float) -> Picture:
        seeds = [parse_seeds(text, f"seeds of {name}") for text, name in ((a, "a"), (b, "b"), (c, "c"))]
        return arithmetic_picture(model, canvas, *seeds, class_choice(choice), truncation(threshold))

    draw.click(draw_grid, [wanted, seed, count, cut], [grid, caption], api_name="grid", concurrency_id=MODEL_QUEUE)
    interpolation_inputs = [mode, first_seed, second_seed, first_class, second_class, wanted, t, cut]
    gr.on([go.click, t.change, mode.change], interpolate, interpolation_inputs, between, api_name="interpolate",
          trigger_mode="always_last", concurrency_id=MODEL_QUEUE)
    compute.click(combine, [*terms, wanted, cut], arithmetic, api_name="arithmetic", concurrency_id=MODEL_QUEUE)


def compare_tab(model: AppModel, canvas: Canvas, cache: ModelCache, settings: PageSettings) -> None:
    gr.Markdown("Two checkpoints' samples for the same seeds, with the figures of their latest evaluation "
                "(`python evaluate.py ckpt=…`). Pick a checkpoint of a run or type a path.")
    choices = [str(model.path), *(path for path in list_checkpoints(settings.train_dir) if path != str(model.path))]
    # B starts as another checkpoint of the same run (an earlier epoch) when there is one
    same_run = [path for path in choices[1:] if Path(path).parent == model.path.parent]
    with gr.Row():
        first = gr.Dropdown(choices, value=choices[0], allow_custom_value=True, label="Checkpoint A")
        second = gr.Dropdown(choices, value=(same_run or choices)[0], allow_custom_value=True, label="Checkpoint B")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed (of the first sample)")
        count = gr.Slider(1, settings.max_samples, settings.compare_samples, step=1, label="Samples (per class)")
    run = gr.Button("Compare", variant="primary", elem_id="compare")
    shown = []
    with gr.Row():
        for side in ("a", "b"):
            with gr.Column():
                shown += [gr.Markdown(elem_id=f"compare-{side}-about"),
                          picture(f"Checkpoint {side.upper()}", f"compare-{side}"),
                          gr.Markdown(elem_id=f"compare-{side}-metrics")]

    @shown_errors
    def compare(path_a: str, path_b: str, first_seed: float, samples: float) -> list[Any]:
        outputs: list[Any] = []
        for path in (path_a, path_b):
            compared = cache.get(path)
            evaluation = find_evaluation(compared.path, settings.eval_dir)
            outputs += [compared.describe(), sample_grid(compared, canvas, int(first_seed), int(samples)),
                        metrics_markdown(evaluation)]
        return outputs

    run.click(compare, [first, second, seed, count], shown, api_name="compare", concurrency_id=MODEL_QUEUE)
