"""Fixtures shared by the whole suite (the components environment and the serving one)."""

from __future__ import annotations

import os

import pytest

import components  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(PROJECT_ROOT), "shared")
TAXI_CSV = os.path.join(SHARED, "data", "chicago_taxi", "data.csv")
KSERVE_SCHEMAS = os.path.join(SHARED, "kserve")


@pytest.fixture(scope="session")
def project_root() -> str:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def taxi_csv() -> str:
    if not os.path.exists(TAXI_CSV):
        pytest.fail(f"the Chicago taxi table is expected at {TAXI_CSV} (../shared/data/chicago_taxi/data.csv)")
    return TAXI_CSV
