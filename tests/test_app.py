"""The evaluation app: its game and playground logic, the running app driven by gradio_client, and a real browser.

The browser test writes its screenshot to $GANFORGE_APP_SCREENSHOT too when that is set (docs/app.png is made so),
and serves $GANFORGE_APP_CKPT (with the classifiers in $GANFORGE_APP_CLASSIFIER_DIR) instead of the tiny run.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError
from hydra.utils import instantiate
from PIL import Image

from conftest import ROOT, path_overrides, run_entry
from ganforge.app.game import GameSession, GameStats, Round
from ganforge.app.loading import find_evaluation, load_app_model, metrics_markdown
from ganforge.app.playground import (
    Canvas,
    class_mixture,
    grid_columns,
    interpolate,
    latent_arithmetic,
    parse_seeds,
    seed_latents,
    truncate,
)
from ganforge.app.server import check_port, serve
from ganforge.checkpoint import load_gan, load_module
from ganforge.domain_classifier import classifier_files
from ganforge.errors import ConfigError, GanforgeError
from ganforge.sampling import draw_noise, render
from ganforge.models.classifier import Classifier
from trained_runs import synthetic_data, trained_checkpoint, trained_classifier_dir

# The running app's picture settings (passed on its command line): every pixel ZOOM×ZOOM, tiles PADDING apart.
ZOOM, PADDING = 3, 1
SIDE = 28  # the synthetic digits' height and width
ANY_CLASS = -1
SERVER_START_SECONDS = 180


@dataclass
class TinyRun:
    ckpt: Path  # python train.py model=cgan on the synthetic bars
    classifier_dir: Path  # holding the bars' domain classifier, mnist-<key>.pt


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> TinyRun:
    """The tiny conditional run and the domain classifier of its data, trained side by side (two processes)."""
    synthetic_data(tmp_path_factory.getbasetemp())  # written once, before both runs read it
    with ThreadPoolExecutor(max_workers=1) as pool:
        classifier_dir = pool.submit(trained_classifier_dir, tmp_path_factory)
        return TinyRun(trained_checkpoint(tmp_path_factory, "cgan"), classifier_dir.result())


# --------------------------------------------------------------------------------------------------
# The game


def stats_after(*rounds: tuple[bool, bool, bool]) -> GameStats:
    """Statistics after rounds of (is real, you say real, D says real)."""
    stats = GameStats()
    for played in rounds:
        stats = stats.record(*played)
    return stats


def test_game_statistics_count_what_each_judge_said_of_each_truth():
    stats = stats_after((True, True, True), (True, False, True), (False, False, True), (False, False, False),
                        (False, True, False))
    assert (stats.rounds(), stats.rounds("real"), stats.rounds("fake")) == (5, 2, 3)
    assert stats.accuracy("you") == pytest.approx(3 / 5)  # right in rounds 1, 3 and 4
    assert stats.accuracy("D", "real") == 1.0 and stats.accuracy("D", "fake") == pytest.approx(2 / 3)
    summary = stats.summary()
    assert "**Your accuracy:** 60%" in summary and "on real 100%, on fake 67%" in summary
    assert "| real | 1 | 1 | 2 | 0 |" in summary  # you said real once and fake once; D said real twice
    assert "| fake | 1 | 2 | 1 | 2 |" in summary


def test_statistics_start_empty_and_recording_leaves_the_old_ones_alone():
    empty = GameStats()
    empty.record(True, True, True)
    assert empty.rounds() == 0 and empty.accuracy("you") is None
    assert "**Your accuracy:** –" in empty.summary() and "| fake | 0 | 0 | 0 | 0 |" in empty.summary()


def test_a_guess_reveals_the_pending_round_once():
    names = ["zero", "one", "two"]
    fake = Round(is_real=False, label=2, d_score=0.25, d_says_real=False, predicted=1, predictor="domain classifier")
    after, said = GameSession(pending=fake).guess(True, names)
    assert said.splitlines() == ["### Wrong: it was FAKE (generated, asked for class two).",
                                 "D(x) = 0.250: D says **fake** (right).  ",
                                 "Predicted class: **one** (domain classifier)."]
    assert after.pending is None and after.stats == stats_after((False, True, False))
    again, message = after.guess(False, names)
    assert again == after and "Press **Next image** first" in message

    real = Round(is_real=True, label=0, d_score=0.4, d_says_real=False, predicted=None,
                 predictor="the dataset is unlabelled")
    _, said = GameSession(pending=real).guess(True, names)
    assert said.startswith("### Right: it was REAL (a test image of class zero).")
    assert "D says **fake** (wrong)" in said and "Predicted class: none (the dataset is unlabelled)." in said


# --------------------------------------------------------------------------------------------------
# The playground's maths and pictures


def test_truncation_redraws_only_the_entries_beyond_the_threshold():
    z = torch.tensor([[-3.0, -0.5, 0.0, 0.9, 1.2, 2.5]])
    cut = truncate(z, 1.0, torch.Generator().manual_seed(0))
    inside = z.abs() <= 1.0
    assert torch.equal(cut[inside], z[inside]) and (cut.abs() <= 1.0).all() and not torch.equal(cut, z)
    assert torch.equal(cut, truncate(z, 1.0, torch.Generator().manual_seed(0)))
    assert truncate(z, None, torch.Generator()) is z and truncate(z, 0.0, torch.Generator()) is z
    with pytest.raises(ConfigError, match="truncation must be positive"):
        truncate(z, -1.0, torch.Generator())


def test_redrawn_entries_follow_the_truncated_normal():
    redrawn = truncate(torch.full((200_000,), 5.0), 1.0, torch.Generator().manual_seed(1))
    # N(0, 1) truncated to ±1 has variance 1 − 2φ(1)/(2Φ(1) − 1)
    phi, inside = math.exp(-0.5) / math.sqrt(2 * math.pi), math.erf(1 / math.sqrt(2))
    assert redrawn.mean().item() == pytest.approx(0.0, abs=0.005)
    assert redrawn.std().item() == pytest.approx(math.sqrt(1 - 2 * phi / inside), abs=0.005)


def test_interpolation_starts_and_ends_exactly_at_its_ends_and_follows_the_great_circle():
    a, b = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    assert torch.equal(interpolate(a, b, 0.0), a) and torch.equal(interpolate(a, b, 1.0), b)
    assert torch.allclose(interpolate(a, b, 0.5), torch.tensor([[math.sqrt(2), math.sqrt(2)]]))


def test_class_mixture_and_latent_arithmetic():
    assert torch.equal(class_mixture(4, 1, 3, 0.25), torch.tensor([[0.0, 0.75, 0.0, 0.25]]))
    assert torch.equal(class_mixture(3, 2, 2, 0.3), torch.tensor([[0.0, 0.0, 1.0]]))
    a, b, c = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 1.0]]), torch.tensor([[0.0, 5.0]])
    assert torch.equal(latent_arithmetic(a, b, c), torch.tensor([[1.0, 7.0]]))  # (2, 3) − (1, 1) + (0, 5)


def test_seeds_are_typed_as_whole_numbers():
    assert parse_seeds("3, 17 42") == [3, 17, 42] and parse_seeds(5) == [5]
    for bad in ("", "a", "1.5", "-2"):
        with pytest.raises(ConfigError, match="type one or more whole numbers"):
            parse_seeds(bad)
    assert [grid_columns(n) for n in (1, 4, 5, 16, 17)] == [1, 2, 3, 4, 5]


def test_a_canvas_tiles_and_enlarges_images_without_blurring():
    images = torch.tensor([[[[0, 10], [20, 30]]], [[[50, 50], [50, 50]]]], dtype=torch.uint8)
    picture = Canvas(zoom=2, padding=1).tile(images, columns=2)
    assert picture.shape == (8, 14, 3)  # (1 row · (2 + 1) + 1) · 2 by (2 columns · (2 + 1) + 1) · 2
    assert (picture[:2] == 255).all() and (picture[:, :2] == 255).all()  # the padding, zoomed
    assert [int(picture[2 + 2 * row, 2 + 2 * column, 0]) for row in (0, 1) for column in (0, 1)] == [0, 10, 20, 30]
    assert (picture[2:4, 2:4] == 0).all() and (picture[4:6, 4:6] == 30).all() and (picture[2:6, 8:12] == 50).all()
    alone = Canvas(zoom=2, padding=1).tile(images[:1], columns=1)
    assert alone.shape == (8, 8, 3) and np.array_equal(alone, picture[:, :8])  # padded as in a grid


def test_a_seed_draws_what_generate_py_draws_with_that_seed(tiny):
    gan = load_app_model(tiny.ckpt, torch.device("cpu")).gan
    assert torch.equal(seed_latents(gan, [7, 8]), torch.cat([draw_noise(gan, 1, 7), draw_noise(gan, 1, 8)]))


# --------------------------------------------------------------------------------------------------
# Loading, evaluations, and bad input


def write_metrics(path: Path, checkpoint: Path, metrics: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"checkpoint": str(checkpoint.resolve()), "metrics": metrics}))
    return path


def test_the_newest_evaluation_of_a_checkpoint_is_found(tmp_path):
    ckpt, other = tmp_path / "a" / "last.ckpt", tmp_path / "b" / "last.ckpt"
    older = write_metrics(tmp_path / "eval" / "runs" / "1" / "metrics.json", ckpt, {"domain": {"fid": 3.0}})
    os.utime(older, (time.time() - 60, time.time() - 60))
    write_metrics(tmp_path / "eval" / "runs" / "2" / "metrics.json", other, {"domain": {"fid": 9.0}})
    newest = write_metrics(tmp_path / "eval" / "multiruns" / "x" / "0" / "metrics.json", ckpt,
                           {"domain": {"fid": 2.5, "isc": 4.0}})
    (tmp_path / "eval" / "runs" / "3").mkdir()
    (tmp_path / "eval" / "runs" / "3" / "metrics.json").write_text("{ cut short")
    found = find_evaluation(ckpt, tmp_path / "eval")
    assert found["metrics"] == {"domain": {"fid": 2.5, "isc": 4.0}} and found["path"] == str(newest)
    assert "| domain/fid | 2.5000 |" in metrics_markdown(found) and "| domain/isc | 4.0000 |" in metrics_markdown(found)
    assert find_evaluation(tmp_path / "c.ckpt", tmp_path / "eval") is None
    assert metrics_markdown(None).startswith("No evaluation of this checkpoint yet")


def test_a_taken_port_is_refused_and_a_freed_one_accepted():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(GanforgeError, match=rf"port {port} on 127.0.0.1 is taken; .* port={port + 1}$"):
            check_port("127.0.0.1", port)
    check_port("127.0.0.1", port)
    for bad in (0, 70000):
        with pytest.raises(ConfigError, match="port must be a number from 1 to 65535"):
            check_port("127.0.0.1", bad)


@pytest.mark.parametrize(
    ("case", "settings", "message"),
    [
        ("no checkpoint", [], "no checkpoint given: add ckpt=PATH"),
        ("missing", [], "checkpoint not found: .*missing.ckpt"),
        ("not a checkpoint", [], "cannot read checkpoint .*notes.txt; it is corrupt or not a checkpoint"),
        ("classifier", [], r"mnist-[0-9a-f]{16}.pt holds a Classifier, not a GAN"),
        ("taken port", [], "is taken"),
        ("zoom 0", ["picture.zoom=0"], "picture.zoom must be a whole number of at least 1"),
        ("compare more", ["compare.samples=65"], r"compare.samples must be at most playground.max_samples \(64\)"),
        ("seed", ["seed=abc"], "seed must be a whole number or null"),
    ],
)
def test_bad_input_stops_the_app_before_its_server_starts(compose_config, tiny, tmp_path, case, settings, message):
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    ckpt = {"no checkpoint": "null", "missing": tmp_path / "missing.ckpt", "not a checkpoint": tmp_path / "notes.txt",
            "classifier": classifier_files(tiny.classifier_dir, "mnist")[0]}.get(case, tiny.ckpt)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1] if case == "taken port" else free_port()
        with pytest.raises(GanforgeError, match=message):
            serve(compose_config([f"ckpt={ckpt}", f"port={port}", *settings], config_name="app"))


def test_app_py_reports_bad_input_in_one_line(tmp_path):
    done = run_entry("app.py", f"ckpt={tmp_path / 'missing.ckpt'}", *path_overrides(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: checkpoint not found: {tmp_path / 'missing.ckpt'}; "
        "pass the .ckpt of a training run, e.g. logs/train/runs/<time>/checkpoints/last.ckpt"
    ]


# --------------------------------------------------------------------------------------------------
# The running app, driven by gradio_client


@dataclass
class RunningApp:
    url: str
    ckpt: Path
    classifier_dir: Path
    base: Path  # its logs and data folders


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app(request, tmp_path_factory) -> Iterator[RunningApp]:
    """`python app.py` on the tiny conditional run (or $GANFORGE_APP_CKPT), started as a user would."""
    chosen, classifiers = os.environ.get("GANFORGE_APP_CKPT"), os.environ.get("GANFORGE_APP_CLASSIFIER_DIR")
    ckpt = Path(chosen) if chosen else request.getfixturevalue("tiny").ckpt
    classifier_dir = Path(classifiers) if classifiers else request.getfixturevalue("tiny").classifier_dir
    base = tmp_path_factory.mktemp("app")
    command = [sys.executable, str(ROOT / "app.py"), f"ckpt={ckpt}", f"port={free_port()}", "seed=0",
               f"classifier_dir={classifier_dir}", f"picture.zoom={ZOOM}", f"picture.padding={PADDING}",
               *path_overrides(base)]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    started = threading.Event()

    def read_output() -> None:  # drains the pipe for as long as the server runs
        for line in server.stdout:
            output.append(line)
            if line.startswith("ganforge app: "):
                started.set()

    threading.Thread(target=read_output, daemon=True).start()
    deadline = time.monotonic() + SERVER_START_SECONDS
    try:
        while not started.wait(0.5):
            assert server.poll() is None, "app.py stopped:\n" + "".join(output)[-3000:]
            assert time.monotonic() < deadline, "app.py printed no URL:\n" + "".join(output)[-3000:]
        url = re.search(r"http://\S+", next(line for line in output if line.startswith("ganforge app: ")))[0]
        yield RunningApp(url, ckpt, classifier_dir, base)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def connect(app: RunningApp, downloads: Path) -> Client:
    """A new session (a new browser tab, as far as the app can tell)."""
    return Client(app.url, analytics_enabled=False, download_files=str(downloads), verbose=False)


@pytest.fixture
def client(app, tmp_path) -> Client:
    return connect(app, tmp_path)


def picture_size(rows: int, columns: int) -> tuple[int, int]:
    return ((rows * (SIDE + PADDING) + PADDING) * ZOOM, (columns * (SIDE + PADDING) + PADDING) * ZOOM)


def read_picture(path: str) -> np.ndarray:
    assert Path(path).suffix == ".png"
    return np.asarray(Image.open(path).convert("RGB"))


def tiles(path: str, rows: int, columns: int) -> torch.Tensor:
    """The grayscale images (N×1×SIDE×SIDE uint8) tiled in a picture of the app, after checking its size."""
    picture = read_picture(path)
    assert picture.shape[:2] == picture_size(rows, columns)
    small, step = picture[::ZOOM, ::ZOOM, 0], SIDE + PADDING
    return torch.stack([torch.from_numpy(small[PADDING + r * step:][:SIDE, PADDING + c * step:][:, :SIDE].copy())[None]
                        for r in range(rows) for c in range(columns)])


@pytest.fixture(scope="module")
def served(app):
    """The served checkpoint's GAN and data module, loaded here independently of the app."""
    gan, record = load_gan(app.ckpt)
    return gan, instantiate(record["data"])


def test_a_guess_round_returns_a_verdict_and_updates_only_this_sessions_statistics(app, tmp_path):
    player, other = connect(app, tmp_path / "player"), connect(app, tmp_path / "other")
    picture, prompt = player.predict(ANY_CLASS, api_name="/next_image")
    assert prompt == "Real or fake? Make your guess." and tiles(picture, 1, 1).shape == (1, 1, SIDE, SIDE)
    said, stats = player.predict(api_name="/guess_real")
    truth = re.match(r"### (Right|Wrong): it was (REAL|FAKE) ", said)
    assert truth and (truth[1] == "Right") == (truth[2] == "REAL")
    real = truth[2] == "REAL"
    assert f"**Rounds:** 1 ({int(real)} real, {int(not real)} fake)" in stats
    assert f"**Your accuracy:** {100 if real else 0}%" in stats
    assert f"| {'real' if real else 'fake'} | 1 | 0 |" in stats
    said_again, stats_again = player.predict(api_name="/guess_fake")  # the round was revealed: nothing to guess
    assert "Press **Next image** first" in said_again and stats_again == stats
    _, other_stats = other.predict(api_name="/guess_fake")
    assert "**Rounds:** 0 (0 real, 0 fake)" in other_stats


def test_the_verdict_says_what_d_and_the_domain_classifier_make_of_the_image_shown(app, client, served):
    gan, datamodule = served
    classifier = load_module(classifier_files(app.classifier_dir, "mnist")[0], Classifier)[0].net.eval()
    for _ in range(2):
        picture, _ = client.predict(4, api_name="/next_image")
        image = tiles(picture, 1, 1)
        said, _ = client.predict(api_name="/guess_fake")
        x = datamodule.to_model_space(image)
        with torch.no_grad():
            assert f"D(x) = {gan.score(x, torch.tensor([4])).item():.3f}: D says" in said
            assert f"Predicted class: **{classifier(x).argmax(1).item()}** (domain classifier)." in said
        if "it was REAL" in said:
            assert "(a test image of class 4)" in said
            test_images, test_labels = datamodule.load("test")
            assert (test_images[test_labels == 4] == image).flatten(1).all(1).any()
        else:
            assert "(generated, asked for class 4)" in said


def grid(client: Client, label: int, seed: int, count: int, truncation: float = 0) -> str:
    """The playground grid's PNG (after checking its caption says what it shows)."""
    path, caption = client.predict(label, seed, count, truncation, api_name="/grid")
    seeds = f"seed {seed}" if count == 1 else f"seeds {seed}–{seed + count - 1}"
    if label == ANY_CLASS:
        assert caption == f"Columns: {seeds}. Rows: {', '.join(str(k) for k in range(10))}."
    else:
        assert caption == f"Samples of class {label} of {seeds}, row by row."  # the bars' classes are named 0 … 9
    return path


def test_the_playground_grid_of_one_class_shows_its_seeds_samples(client, served):
    gan, datamodule = served
    drawn = tiles(grid(client, 3, 5, 6), rows=2, columns=3)
    z = torch.cat([draw_noise(gan, 1, seed) for seed in range(5, 11)])
    assert torch.equal(drawn, render(gan, datamodule.to_data_space, z, torch.full((6,), 3)))
    assert not torch.equal(drawn, tiles(grid(client, 3, 5, 6, truncation=0.5), rows=2, columns=3))


def test_the_playground_grid_of_every_class_has_a_row_per_class(client):
    drawn = tiles(grid(client, ANY_CLASS, 0, 2), rows=10, columns=2)
    assert torch.equal(drawn[6:8], tiles(grid(client, 3, 0, 2), rows=1, columns=2))


def test_interpolation_between_seeds_ends_at_the_two_seeds_samples(client):
    first, second = (read_picture(grid(client, 3, seed, 1)) for seed in (11, 12))
    at = {t: read_picture(client.predict("seeds", 11, 12, 0, 9, 3, t, 0, api_name="/interpolate")) for t in (0, 0.5, 1)}
    assert np.array_equal(at[0], first) and np.array_equal(at[1], second)
    assert not np.array_equal(at[0.5], first) and not np.array_equal(at[0.5], second)


def test_interpolation_between_classes_ends_at_the_two_classes_samples(client):
    first, second = (read_picture(grid(client, label, 11, 1)) for label in (2, 7))
    at = {t: read_picture(client.predict("classes", 11, 12, 2, 7, ANY_CLASS, t, 0, api_name="/interpolate"))
          for t in (0, 1)}
    assert np.array_equal(at[0], first) and np.array_equal(at[1], second)


def test_latent_arithmetic_shows_a_b_c_and_a_minus_b_plus_c(client, served):
    gan, datamodule = served
    drawn = tiles(client.predict("1", "2", "3, 4", 5, 0, api_name="/arithmetic"), rows=1, columns=4)
    a, b, c = draw_noise(gan, 1, 1), draw_noise(gan, 1, 2), torch.cat([draw_noise(gan, 1, 3), draw_noise(gan, 1, 4)])
    z = torch.cat([a, b, c.mean(0, keepdim=True), a - b + c.mean(0, keepdim=True)])
    assert torch.equal(drawn, render(gan, datamodule.to_data_space, z, torch.full((4,), 5)))
    with pytest.raises(AppError, match="seeds of b: type one or more whole numbers"):
        client.predict("1", "two", "3", 5, 0, api_name="/arithmetic")


def test_compare_shows_two_checkpoints_for_the_same_seeds_with_their_evaluations(app, client, tmp_path):
    copy = tmp_path / "copy.ckpt"
    shutil.copy(app.ckpt, copy)
    write_metrics(app.base / "logs" / "eval" / "runs" / "earlier" / "metrics.json", app.ckpt, {"domain": {"fid": 12.5}})
    about_a, grid_a, metrics_a, about_b, grid_b, metrics_b = client.predict(str(app.ckpt), str(copy), 0, 2,
                                                                            api_name="/compare")
    assert str(app.ckpt.resolve()) in about_a and str(copy.resolve()) in about_b and "model **cgan**" in about_b
    assert torch.equal(tiles(grid_a, rows=10, columns=2), tiles(grid_b, rows=10, columns=2))  # the same weights
    assert "| domain/fid | 12.5000 |" in metrics_a and metrics_b.startswith("No evaluation of this checkpoint yet")
    with pytest.raises(AppError, match="checkpoint not found"):
        client.predict(str(app.ckpt), str(tmp_path / "missing.ckpt"), 0, 2, api_name="/compare")


# --------------------------------------------------------------------------------------------------
# A real browser


def browser_paths() -> tuple[str, str]:
    """Debian's chromium and its chromedriver; the test skips only where they are not installed."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (browser and driver):
        pytest.skip("no browser: apt-get install chromium chromium-driver (as .ci/run does) to run this test")
    return browser, driver


def test_a_round_played_in_a_real_browser_with_the_network_closed(app, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shows
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):  # no host but this one resolves
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(app.url)
        wait = WebDriverWait(driver, 60)
        wait.until(shows.visibility_of_element_located((By.CSS_SELECTOR, "#round-image img")))
        driver.find_element(By.ID, "next-image").click()
        wait.until(shows.text_to_be_present_in_element((By.ID, "verdict"), "Make your guess"))
        driver.find_element(By.ID, "guess-real").click()
        wait.until(shows.text_to_be_present_in_element((By.ID, "verdict"), "it was"))
        verdict, stats = driver.find_element(By.ID, "verdict").text, driver.find_element(By.ID, "stats").text
        screenshot = tmp_path / "app.png"
        assert driver.save_screenshot(str(screenshot))
        loaded = driver.execute_script("return performance.getEntriesByType('resource').map(entry => entry.name)")
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    finally:
        driver.quit()
    assert re.match(r"(Right|Wrong): it was (REAL|FAKE) \(", verdict) and "D(x) = " in verdict
    assert "Rounds: 1 (" in stats and "Your accuracy: " in stats
    assert loaded and all(url.startswith(app.url) for url in loaded)  # scripts, styles and fonts come from the app
    assert errors == []
    with Image.open(screenshot) as shot:
        assert shot.format == "PNG" and shot.width == 1280
    if os.environ.get("GANFORGE_APP_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["GANFORGE_APP_SCREENSHOT"])
