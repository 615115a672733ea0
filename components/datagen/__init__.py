"""Synthetic data generators (card-transaction fraud)."""
