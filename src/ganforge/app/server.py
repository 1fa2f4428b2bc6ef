"""Starting the app: every input checked and the checkpoint loaded before the server starts; nothing fetched online."""

from __future__ import annotations

import errno
import logging
import os
import socket
from pathlib import Path

from omegaconf import DictConfig

from ganforge.app.game import RoundDealer
from ganforge.app.loading import ModelCache, load_app_model
from ganforge.app.playground import Canvas
from ganforge.errors import ConfigError, GanforgeError
from ganforge.generation import resolve_device

log = logging.getLogger(__name__)

# Set before Gradio is imported: no telemetry or version check (api.gradio.app), no Hugging Face Hub calls.
OFFLINE_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
}


def check_port(host: str, port: int) -> None:
    """A GanforgeError when `port` is out of range or something already listens on it at `host`."""
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"port must be a number from 1 to 65535, got {port!r}")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a closed port is free
        try:
            probe.bind((host, port))
        except OSError as err:
            reason = "is taken" if err.errno == errno.EADDRINUSE else f"cannot be used ({err.strerror})"
            raise GanforgeError(f"port {port} on {host} {reason}; stop what uses it or choose another, "
                                f"e.g. python app.py ckpt=… port={port + 1}") from err


def check_settings(cfg: DictConfig) -> None:
    """A ConfigError for a picture or page setting that cannot work."""
    playground = cfg.playground
    for key, value, low in (("picture.zoom", cfg.picture.zoom, 1), ("picture.padding", cfg.picture.padding, 0),
                            ("playground.samples", playground.samples, 1),
                            ("playground.max_samples", playground.max_samples, playground.samples),
                            ("compare.samples", cfg.compare.samples, 1), ("compare.cache", cfg.compare.cache, 1),
                            ("keep_files", cfg.keep_files, 1)):
        if not isinstance(value, int) or value < low:
            raise ConfigError(f"{key} must be a whole number of at least {low}, got {value!r}")
    if cfg.compare.samples > playground.max_samples:
        raise ConfigError(f"compare.samples must be at most playground.max_samples ({playground.max_samples}), "
                          f"got {cfg.compare.samples}")
    if not playground.max_truncation > 0:
        raise ConfigError(f"playground.max_truncation must be positive, got {playground.max_truncation}")
    if cfg.seed is not None and not isinstance(cfg.seed, int):
        raise ConfigError(f"seed must be a whole number or null, got {cfg.seed!r}")


def serve(cfg: DictConfig) -> None:
    """Load `cfg.ckpt`, start the app on `cfg.host:cfg.port`, print its URL and serve until interrupted."""
    check_settings(cfg)
    device = resolve_device(cfg.device)
    model = load_app_model(cfg.ckpt, device, cfg.data, cfg.classifier_dir)
    canvas = Canvas(cfg.picture.zoom, cfg.picture.padding)
    dealer = RoundDealer(model, canvas, cfg.seed)  # reads the test split: a missing dataset fails here
    check_port(cfg.host, cfg.port)

    os.environ.update(OFFLINE_ENVIRONMENT)
    os.environ["GRADIO_TEMP_DIR"] = str(Path(cfg.files_dir).resolve())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's start-up checks of its own URL
    from ganforge.app.ui import CSS, PageSettings, build_page

    cache = ModelCache(device, cfg.data, cfg.compare.cache)
    cache.add(model)
    settings = PageSettings(cfg.playground.samples, cfg.playground.max_samples, cfg.playground.max_truncation,
                            cfg.compare.samples, cfg.keep_files, Path(cfg.train_dir), Path(cfg.eval_dir))
    page = build_page(model, dealer, canvas, cache, settings)
    try:
        page.launch(server_name=cfg.host, server_port=cfg.port, share=False, inbrowser=False, quiet=True,
                    prevent_thread_lock=True, css=CSS)
    except OSError as err:  # taken between the check and the start
        raise GanforgeError(f"cannot serve on {cfg.host}:{cfg.port} ({err}); choose another port=…") from err
    log.info("Serving %s (sampling weights: %s) at %s", model.path, model.weights, page.local_url)
    print(f"ganforge app: {page.local_url}  (checkpoint {model.path}; Ctrl+C stops it)", flush=True)
    page.block_thread()
