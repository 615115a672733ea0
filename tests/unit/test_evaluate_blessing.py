"""The blessing rules are pure: the naive-baseline statements for each task, from plain values."""

from __future__ import annotations

import pytest

from components.evaluate import blessing as rules

pytestmark = pytest.mark.unit


def test_binary_accuracy_near_the_majority_rate_is_called_out():
    naive = rules.naive_baseline("binary", {"mean_label": 0.1, "binary_accuracy": 0.905, "auc": 0.8}, None, None)
    assert naive["naive"] == pytest.approx(0.9) and naive["barely"]
    note = rules.naive_note("binary", naive)
    assert note.startswith("The model barely beats a naive baseline: binary_accuracy 0.905")
    assert "majority class (0) scores accuracy 0.900" in note


def test_binary_auc_near_one_half_is_called_out_even_with_good_accuracy():
    naive = rules.naive_baseline("binary", {"mean_label": 0.5, "binary_accuracy": 0.7, "auc": 0.52}, None, None)
    assert "close to 0.5 (a coin toss)" in rules.naive_note("binary", naive)


def test_a_clearly_better_model_gets_no_note():
    naive = rules.naive_baseline("binary", {"mean_label": 0.5, "binary_accuracy": 0.9, "auc": 0.95}, None, None)
    assert naive and not naive["barely"] and rules.naive_note("binary", naive) is None


def test_multiclass_below_the_majority_rate_does_not_beat_it():
    cm = {"categories": ["a", "b", "c"], "matrix": [[50, 0, 0], [25, 0, 0], [25, 0, 0]]}
    naive = rules.naive_baseline("multiclass", {"sparse_categorical_accuracy": 0.49}, cm, None)
    assert naive["naive"] == pytest.approx(0.5)
    assert "does NOT beat" in rules.naive_note("multiclass", naive) and "(a)" in naive["naive_text"]
    (gate,) = rules.naive_gate("multiclass", naive)
    assert (
        not gate["passed"]
        and gate["text"] == "sparse_categorical_accuracy 0.490 <= 0.500 majority-class rate (overall)"
    )


def test_regression_no_better_than_the_mean():
    naive = rules.naive_baseline("regression", {"mean_squared_error": 0.98}, None, 1.0)
    assert naive["barely"] and "predicting the mean label scores mean_squared_error 1.000" in rules.naive_note(
        "regression", naive
    )
    assert not rules.naive_baseline("regression", {"mean_squared_error": 0.3}, None, 1.0)["barely"]


def test_notes_do_not_block_the_blessing():
    naive = rules.naive_baseline("regression", {"mean_squared_error": 1.2}, None, 1.0)
    verdict = rules.decide("regression", [], [], True, [], naive)
    assert verdict.blessed and verdict.notes and "does NOT beat" in verdict.notes[0]


def test_blessing_layout_round_trip_and_clear_errors(tmp_path):
    from components._shared.artifacts.blessing import BlessingError, read_blessing, write_blessing

    written = write_blessing(str(tmp_path / "b"), False, ["auc 0.5 < 0.6 (overall)"], None, ["auc 0.5 < 0.6 (overall)"])
    assert read_blessing(str(tmp_path / "b")) == written and written["notes"] == []
    with pytest.raises(BlessingError, match="cannot read the blessing .*blessing.json.*evaluate step"):
        read_blessing(str(tmp_path / "nowhere"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "blessing.json").write_text('{"blessed": "yes"}')
    with pytest.raises(BlessingError, match="no boolean 'blessed'"):
        read_blessing(str(tmp_path / "bad"))
