"""report.html: one self-contained page (images inlined) with an evaluation's metrics and figures."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from ganforge.evaluation.context import ReportFigure

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0 1em; } td, th { padding: 0.25em 0.9em; text-align: left; }
tr:nth-child(even) { background: #f5f5f5; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.92em; margin-top: 0.4em; } .facts td:first-child { color: #666; }
p.said { margin: 0.4em 0; max-width: 60em; }
"""


# What a suite says about its numbers in words (from its `measured_with` details), shown above them.
SAID_IN_WORDS = {"feature_space": "Feature space", "trust": "How far to trust these numbers"}


def format_number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else escape(str(value))


def table(rows: Mapping[str, Any], css_class: str = "") -> str:
    cells = "".join(
        f"<tr><td>{escape(str(key))}</td><td class='number'>{format_number(value)}</td></tr>" for key, value in rows.items()
    )
    return f"<table class='{css_class}'>{cells}</table>"


def inline_png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def figure_html(figure: ReportFigure) -> str:
    numbers = table(figure.numbers) if figure.numbers else ""
    return (
        f"<h2 id='{escape(figure.name)}'>{escape(figure.title)}</h2><figure>"
        f"<img src='{inline_png(figure.path)}' alt='{escape(figure.title)}'>"
        f"<figcaption>{escape(figure.caption)}</figcaption></figure>{numbers}"
    )


def write_report(
    path: Path,
    title: str,
    facts: Mapping[str, Any],
    metrics: Mapping[str, Mapping[str, float]],
    figures: Sequence[ReportFigure],
    notes: Sequence[str] = (),
    measured_with: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write the page: facts about the run, per suite its feature space and how far to trust it (in words), its
    metrics and how they were measured (feature extractor, cached statistics), every figure, and notes on what
    was skipped."""
    sections = [f"<h1>{escape(title)}</h1>", table(facts, "facts")]
    for suite, values in metrics.items():
        details = dict((measured_with or {}).get(suite, {}))
        said = "".join(f"<p class='said'><b>{heading}:</b> {escape(str(details.pop(key)))}</p>"
                       for key, heading in SAID_IN_WORDS.items() if key in details)
        sections.append(f"<h2>Metrics: {escape(suite)}</h2>{said}{table(values)}{table(details, 'facts')}")
    sections.extend(figure_html(figure) for figure in figures)
    if notes:
        items = "".join(f"<li>{escape(note)}</li>" for note in notes)
        sections.append(f"<h2>Not shown</h2><ul>{items}</ul>")
    page = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )
    path.write_text(page, encoding="utf-8")
    return path
