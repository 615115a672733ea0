"""Fixtures of the validate tests: a schema inferred from a clean frame and that frame's statistics."""

from __future__ import annotations

import pytest

from tests.testdata.validate_fixtures import transactions, write_schema_artifact, write_stats_artifact


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Schema inferred from a clean training frame, plus that frame's statistics artifact."""
    root = tmp_path_factory.mktemp("base")
    train = transactions(seed=0)
    schema_dir = str(root / "schema")
    write_schema_artifact(schema_dir, train)
    stats_dir = write_stats_artifact(str(root / "stats"), train, transactions(seed=1))
    return {"schema": schema_dir, "stats": stats_dir, "train": train}
