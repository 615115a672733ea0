"""The continuous-training demo's parts (make demo-drift): see pipelines/demo_drift.py."""
