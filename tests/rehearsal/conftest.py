"""Fixtures of the cluster rehearsal (marker ``rehearsal``): see tests/rehearsal/cluster.py."""

from __future__ import annotations

import os

import pytest
import yaml

from tests.rehearsal.cluster import ROOT, Rehearsal

ISVC_CRD = os.path.join(os.path.dirname(ROOT), "shared", "kserve", "serving.kserve.io_inferenceservices.yaml")


def pytest_collection_modifyitems(items: list) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.rehearsal)


@pytest.fixture(scope="session")
def isvc_schema() -> dict:
    from tests.doubles.kube_api import crd_schema

    if not os.path.exists(ISVC_CRD):
        pytest.fail(f"KServe's InferenceService CRD is expected at {ISVC_CRD} (../shared/kserve/)")
    with open(ISVC_CRD) as f:
        return crd_schema(yaml.safe_load(f))


@pytest.fixture
def rehearsal(isvc_schema):
    with Rehearsal(isvc_schema=isvc_schema) as r:
        yield r
