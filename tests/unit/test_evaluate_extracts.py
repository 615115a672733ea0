"""Evaluate's pruned TFMA extracts (components/evaluate/tfma_extract.py) and in-process per-slice combine give what
TFMA's default extractors and hot-key fanout give."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from components._shared.artifacts import evaluation as evaluation_layout
from components.evaluate import tfma_extract
from components.evaluate.logic import evaluate_model
from tests.testdata.chain import build_chain

pytestmark = pytest.mark.unit


def test_prune_keeps_slice_features_labels_and_predictions_only():
    prune = tfma_extract.PruneExtracts(frozenset({"channel"}), ("",))
    batch = {
        "input": np.array([b"raw", b"raw"]),
        "features": {"channel": np.array([b"pos", b"atm"]), "amount": np.array([1.0, 2.0])},
        "transformed_features": {"channel": np.array([0, 1]), "amount_xf": np.array([0.1, 0.2])},
        "labels": np.array([0, 1]),
        "predictions": np.array([0.2, 0.9]),
        "example_weights": None,
        "arrow_record_batch": "kept as is",
    }
    out = prune(batch)
    assert set(out) == set(batch) - {"input"}
    assert set(out["features"]) == {"channel"} and set(out["transformed_features"]) == {"channel"}
    assert out["labels"] is batch["labels"] and out["predictions"] is batch["predictions"]
    assert set(batch["features"]) == {"channel", "amount"}, "the input extract is not modified"

    # several models: transformed features keyed by model name, pruned per model
    prune = tfma_extract.PruneExtracts(frozenset({"channel"}), ("candidate", "baseline"))
    keyed = {m: {"channel": 1, "x": 2} for m in ("candidate", "baseline")}
    assert prune({"transformed_features": keyed})["transformed_features"] == {
        "candidate": {"channel": 1},
        "baseline": {"channel": 1},
    }


def test_prune_stage_reaches_workers_without_kfx(monkeypatch):
    """The prune callable is pickled with its code: a Beam worker that cannot import kfx still runs it."""
    import sys

    import tensorflow_model_analysis as tfma
    from apache_beam.internal import pickler

    config = tfma.EvalConfig(slicing_specs=[tfma.SlicingSpec(feature_keys=["channel"])])
    tfma_extract.extractors(config, None)  # building the stages registers the module to be pickled by value
    blob = pickler.dumps(tfma_extract.PruneExtracts(tfma_extract.slice_feature_keys(config), ("",)))
    monkeypatch.setitem(sys.modules, tfma_extract.__name__, None)  # importing it by name now fails
    prune = pickler.loads(blob)
    out = prune({"input": b"x", "features": {"channel": 1, "other": 2}, "labels": 1})
    assert out == {"features": {"channel": 1}, "labels": 1}


def test_slice_feature_keys_cover_keys_values_and_cross_slices():
    import tensorflow_model_analysis as tfma

    config = tfma.EvalConfig(
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["a"], feature_values={"b": "x"})],
        cross_slicing_specs=[
            tfma.CrossSlicingSpec(
                baseline_spec=tfma.SlicingSpec(feature_keys=["c"]),
                slicing_specs=[tfma.SlicingSpec(feature_keys=["d"])],
            )
        ],
    )
    assert tfma_extract.slice_feature_keys(config) == {"a", "b", "c", "d"}


#: TFMA's default path is not bit-reproducible itself: its combiners sum float32 predictions in bundle order,
#: which the DirectRunner varies between runs. Four runs on this chain (two per path) gave mean_prediction
#: 0.05323092329783888 / ...35652365 (both default) and ...35041662 / ...295613128 (both pruned): up to 1.5e-8
#: apart. Counts, slices, AUC and the blessing are exact; sums within RTOL.
RTOL = 1e-6


def _close(a, b, path="") -> None:
    """Equal; floats within RTOL relative (TFMA's own run-to-run noise, see RTOL)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b)), (path, a, b)
    else:
        assert a == b, (path, a, b)


@pytest.fixture(scope="module")
def fraud(tmp_path_factory) -> dict:
    return build_chain(str(tmp_path_factory.mktemp("fraud_chain")), n_rows=3000, epochs=2)


#: The paths compared: TFMA's default extractors and hot-key fanout (kfx before any of this), the pruned extracts
#: combined one example at a time (kfx before the batched combine), and the pruned extracts combined from batches.
PATHS = {"default": (False, False), "pruned": (True, False), "batched": (True, True)}


@pytest.mark.parametrize("with_baseline", [False, True], ids=["candidate", "vs_baseline"])
def test_pruned_and_batched_paths_give_the_same_evaluation_as_tfma_defaults(
    fraud, tmp_path, monkeypatch, with_baseline
):
    kwargs = dict(slice_features=["channel"], baseline_model_dir=fraud["model"] if with_baseline else None)
    from components._shared._compat import tfma as compat
    from components.evaluate import logic

    outputs = {}
    new_fanout = logic.per_slice_hot_key_fanout
    taken: list[bool] = []
    decide = tfma_extract.batched_combine
    monkeypatch.setattr(tfma_extract, "batched_combine", lambda *a: taken.append(decide(*a)) or taken[-1])
    for name, (prune, batched) in PATHS.items():
        # the old path: TFMA's default extracts and TFMA's hot-key fanout of the per-slice combine
        monkeypatch.setattr(tfma_extract, "PRUNE", prune)
        monkeypatch.setattr(tfma_extract, "BATCHED", batched)
        old_fanout = lambda distributed: compat.per_slice_hot_key_fanout(True)  # noqa: E731
        monkeypatch.setattr(logic, "per_slice_hot_key_fanout", new_fanout if prune else old_fanout)
        out = tmp_path / name
        result = evaluate_model(fraud["model"], fraud["examples"], str(out / "ev"), str(out / "bl"), **kwargs)
        evaluation = json.loads((out / "ev" / evaluation_layout.SUMMARY_FILE).read_text())
        slices = json.loads((out / "ev" / evaluation_layout.SLICES_FILE).read_text())
        outputs[name] = (result, evaluation, slices, out)
    assert taken == [False, False, True], "only the batched path combines from batches"
    old, old_json, old_slices, old_dir = outputs["default"]
    for name in ("pruned", "batched"):
        new, new_json, new_slices, new_dir = outputs[name]
        assert {s["slice"] for s in new.slices} == {"Overall", "channel=pos", "channel=online", "channel=atm"}
        assert new.example_count == old.example_count > 0
        assert (new.blessed, new.reasons, new.checks) == (old.blessed, old.reasons, old.checks)
        assert new.overall["auc"] == old.overall["auc"], name
        counts = [[s["metrics"]["example_count"] for s in r.slices] for r in (old, new)]
        assert counts[0] == counts[1], name
        _close(old_json, new_json, name)
        _close(old_slices, new_slices, name)
        assert (old_dir / "bl").exists() and sorted(os.listdir(old_dir / "bl")) == sorted(os.listdir(new_dir / "bl"))
        for f in os.listdir(old_dir / "bl"):
            assert (old_dir / "bl" / f).read_bytes() == (new_dir / "bl" / f).read_bytes(), (name, f)
        # TFMA's own files (metrics, plots, validations) hold the same protos
        tfma_old, tfma_new = (evaluation_layout.tfma_dir(str(d / "ev")) for d in (old_dir, new_dir))
        assert sorted(os.listdir(tfma_old)) == sorted(os.listdir(tfma_new))
