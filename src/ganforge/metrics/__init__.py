"""Evaluation metrics: torch-fidelity's Inception metrics (`inception`), the same metrics through a domain
classifier (`domain`), and the accuracy of classifiers (`accuracy`)."""

from ganforge.metrics.base import MetricInputs, MetricSuite, SampleSet, SuiteResult, split_set

__all__ = ["MetricInputs", "MetricSuite", "SampleSet", "SuiteResult", "split_set"]
