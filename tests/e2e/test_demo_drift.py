"""The continuous-training demo, short: real model server (.venv-serving), real prediction log, real kfp.local runs.

Runs from the components environment; the model server is started with ``.venv-serving/bin/python`` (``make test``
installs both). The no-drift control runs in ``make test``; concept and covariate drift are slow (``make test-all``).
"""

from __future__ import annotations

import os
from datetime import timedelta

import numpy as np
import pytest

from components._shared.artifacts import model as model_layout
from components._shared.artifacts import prediction_log as plog
from components.datagen.fraud import LABEL
from components.datagen.stream import day_table
from components.monitor.quality import roc_auc
from pipelines.drift_demo import steps
from pipelines.drift_demo.loop import START, Config, run_scenario
from pipelines.drift_demo.summary import first_below

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def serving_python(project_root):
    python = os.path.join(project_root, ".venv-serving", "bin", "python")
    if not os.path.exists(python):
        pytest.skip(f"the serving environment is not installed ({python} is absent): run `make install-serving`")
    return python


def _run(tmp_path_factory, serving_python, scenario, **kw):
    out = tmp_path_factory.mktemp(f"demo-{scenario}")
    cfg = Config(out=str(out), serving_python=serving_python, epochs=8, **kw)
    return run_scenario(cfg, scenario, progress=lambda line: None)


@pytest.fixture(scope="module")
def no_drift(tmp_path_factory, serving_python):
    return _run(tmp_path_factory, serving_python, "none", days=5, rows_per_day=600, train_days=3)


def test_no_drift_no_retraining_and_a_real_log(no_drift):
    res = no_drift
    assert res.events == [], [(e.day, e.trigger) for e in res.events]
    assert [r.decision.retrain for r in res.reports] == [False] * 5
    log = os.path.join(res.root, "prediction-log")
    for day in range(5):  # the simulated day is the log partition, every request logged with the server's score
        start = START + timedelta(days=day)
        assert os.path.isdir(os.path.join(log, f"date={start:%Y-%m-%d}"))
        records = plog.read_window(log, start, start + timedelta(days=1))
        assert len(records) == 600
        assert {r[plog.REVISION] for r in records} == {"v1"}
        assert all(0.0 <= r[plog.PREDICTION][0] <= 1.0 for r in records)
    labels = plog.read_labels(os.path.join(res.root, "labels.csv"))
    assert len(labels) == 5 * 600  # delayed labels, the last ones released after the simulation
    realised = [r.realised.auc for r in res.reports if r.realised]
    assert len(realised) == 3 and min(realised) >= res.config.tau


def test_production_model_carries_its_evidence(no_drift):
    prod = no_drift.versions["v1"]
    assert model_layout.saved_model_dir(prod)
    assert os.path.exists(os.path.join(model_layout.evidence_statistics_dir(prod), "train", "FeatureStats.pb"))
    assert os.listdir(model_layout.evidence_schema_dir(prod))
    assert model_layout.read_lineage(prod)  # lineage.json next to the model


def test_chart_png_and_html(no_drift, tmp_path):
    from pipelines.drift_demo.chart import write_html, write_png

    png, html = write_png([no_drift], str(tmp_path / "c.png")), write_html([no_drift], str(tmp_path / "c.html"))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    text = open(html).read()
    assert text.count('data-chart="line"') == 2 and "no retraining" in text
    assert "<script" not in text and "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")


@pytest.mark.slow
def test_concept_drift_retrains_within_two_days_and_the_new_model_wins(tmp_path_factory, serving_python):
    res = _run(tmp_path_factory, serving_python, "concept", days=14, shift_day=5, rows_per_day=1000)
    below = first_below(res)
    assert below is not None, "concept drift must push realised AUC below tau"
    # labels arrive label_delay (2) days late: the monitor can see the drop on day below + 2 at the earliest
    assert any(below <= e.day <= below + 2 for e in res.events), (below, [e.day for e in res.events])
    rolled = [e for e in res.events if e.rolled_out]
    assert rolled, [(e.day, e.outcome) for e in res.events]
    held_out = day_table(60, 3000, "concept", shift_day=5, seed=99)  # a post-shift day no model saw
    y = held_out[LABEL].to_numpy()
    old = roc_auc(y, steps.score_table(res.versions["v1"], held_out))
    new = roc_auc(y, steps.score_table(res.versions[rolled[-1].version], held_out))
    assert new > old + 0.03, (old, new)


@pytest.mark.slow
def test_covariate_drift_estimate_tracks_realised_before_labels(tmp_path_factory, serving_python):
    res = _run(tmp_path_factory, serving_python, "covariate", days=12, shift_day=4, rows_per_day=1500)
    realised = {r.realised_day: (r.realised, r.realised_revision) for r in res.reports if r.realised}
    realised.update(res.backfill)
    diffs = [
        abs(r.estimated.auc - realised[r.day][0].auc)
        for r in res.reports
        if r.day in realised and realised[r.day][1] == r.revision  # the same model, estimated on the day itself
    ]
    assert len(diffs) >= 8
    assert float(np.mean(diffs)) <= 0.03, diffs
