"""Helpers shared by every kfx component (no kfp imports here)."""
