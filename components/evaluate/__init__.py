"""Evaluate: TFMA metrics overall and per slice, thresholds vs a baseline model, blessing."""
