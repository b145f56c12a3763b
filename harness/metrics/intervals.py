"""Moved to :mod:`harness.metrics.bootstrap`; this re-export goes once harness.scoring
imports ``bootstrap_mean_ci`` from there."""

from __future__ import annotations

from harness.metrics.bootstrap import bootstrap_mean_ci

__all__ = ["bootstrap_mean_ci"]
