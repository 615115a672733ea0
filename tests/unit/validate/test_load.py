"""Validate reads statistics with the shared reader (components/_shared/artifacts/statistics.py): from an artifact
dir, a dir holding FeatureStats.pb, or the file itself; bad files are named."""

from __future__ import annotations

import pytest

from components._shared.artifacts.statistics import read_statistics, stats_path

pytestmark = pytest.mark.unit


def test_read_statistics_accepts_artifact_dir_and_file(base):
    from_dir = read_statistics(base["stats"], "eval")
    from_file = read_statistics(stats_path(base["stats"], "eval"))
    assert from_dir == from_file and from_dir.datasets[0].num_examples == 600


def test_a_file_that_is_not_statistics_is_named(tmp_path):
    bad = tmp_path / "FeatureStats.pb"
    bad.write_bytes(b"")
    with pytest.raises(ValueError, match="FeatureStats.pb holds no statistics"):
        read_statistics(str(bad))
