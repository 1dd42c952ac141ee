"""Step segmentation: split a solution into steps that join back to it exactly."""

from supdata.ops.steps.segment import STRATEGIES, Strategy, segment, strip_steps

__all__ = ["STRATEGIES", "Strategy", "segment", "strip_steps"]
