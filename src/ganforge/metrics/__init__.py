"""Evaluation metrics: torch-fidelity's Inception metrics, and the same metrics through a domain classifier."""

from ganforge.metrics.base import MetricInputs, MetricSuite, SampleSet, SuiteResult
from ganforge.metrics.domain import DomainMetrics
from ganforge.metrics.inception import InceptionMetrics

__all__ = ["DomainMetrics", "InceptionMetrics", "MetricInputs", "MetricSuite", "SampleSet", "SuiteResult"]
