"""components/validate/load.py: statistics from an artifact dir or a file."""

from __future__ import annotations

import os

import pytest

from components.validate.load import load_statistics

pytestmark = pytest.mark.unit


def test_load_statistics_accepts_artifact_dir_and_file(base):
    from_dir = load_statistics(base["stats"], "eval")
    from_file = load_statistics(os.path.join(base["stats"], "eval", "FeatureStats.pb"))
    assert from_dir == from_file and from_dir.datasets[0].num_examples == 600
