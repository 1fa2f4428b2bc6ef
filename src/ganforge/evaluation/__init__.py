"""Evaluating a checkpoint (`python evaluate.py`): the pipeline, the metric suites that feed `metrics`, the visual
analyses (one module per concern) and the report."""

from ganforge.evaluation.pipeline import evaluate, metrics_table

__all__ = ["evaluate", "metrics_table"]
