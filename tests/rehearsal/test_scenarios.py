"""The cluster rehearsal's scenarios, on the COMMITTED compiled train_and_deploy.yaml (see tests/rehearsal/cluster.py).

(a) fresh data deploys; (b) a second run evaluates against the served model as baseline and rolls out;
(c) a worse candidate is NOT blessed and nothing changes in the cluster; (d) a batch with a missing column stops
at the gate with its anomalies report published; (e) a deploy killed mid-canary is resolved by the next run.
"""

from __future__ import annotations

import pytest

from tests.rehearsal import scenarios as sc

pytestmark = pytest.mark.rehearsal


def test_a_fresh_data_deploys(rehearsal, tmp_path):
    data = sc.put_data(rehearsal, sc.generate_csv(str(tmp_path / "fresh.csv"), seed=1))
    run = sc.train_and_deploy(rehearsal, data)

    assert run.succeeded, run.summary()
    assert run.output("deploy", "deployed") is True, run.summary(logs_of=("evaluate", "deploy"))
    isvc = sc.served(rehearsal)
    assert isvc is not None, "deploy succeeded but no InferenceService exists"
    uri = sc.storage_uri_of(isvc)
    assert uri.startswith(f"{sc.STORAGE_URI}/{sc.MODEL_NAME}/"), uri
    assert rehearsal.s3.exists(uri.rstrip("/") + "/saved_model/saved_model.pb"), f"nothing pushed at {uri}"
    assert [t["percent"] for t in sc.traffic(isvc)] == [100], sc.traffic(isvc)
    assert uri in rehearsal.kube.downloads  # the storage initializer fetched the pushed model from S3
