"""Statistics: TFDV per split, in-memory and Beam paths agree, row counts exact, HTML report."""

from __future__ import annotations

import math
import os

import pytest
from google.protobuf import json_format

from components._shared import artifacts
from components._shared.artifacts import examples as examples_layout
from components._shared.artifacts.statistics import stats_path
from components.datagen.fraud import write_csv
from components.ingest.logic import ingest_csv
from components.statistics.logic import (
    StatisticsError,
    choose_mode,
    compute_statistics,
    feature_groups,
    load_statistics,
    statistics_from_csv,
)

pytestmark = pytest.mark.unit

#: Beam and the in-memory path feed the same generators in different batches; the only thing that can differ
#: is the floating-point summation order inside mean/std_dev (last few bits). Everything else is compared exactly.
REL_TOL = 1e-9


def assert_same_statistics(a, b, path="stats"):
    """Recursive comparison of two statistics protos: exact, except floats within REL_TOL."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{path}: keys differ: {sorted(a.keys() ^ b.keys())}"
        for k in a:
            assert_same_statistics(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: {len(a)} != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_statistics(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _as_dict(stats):
    return json_format.MessageToDict(stats, preserving_proto_field_name=True)


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    root = tmp_path_factory.mktemp("stats")
    csv = write_csv(str(root / "fraud.csv"), 1500, seed=3)
    result = ingest_csv(csv, str(root / "examples"))
    return {"csv": csv, "dir": str(root / "examples"), "splits": result.splits, "root": root}


@pytest.fixture(scope="module")
def in_memory(examples):
    out = str(examples["root"] / "stats_mem")
    html = str(examples["root"] / "report.html")
    counts = compute_statistics(examples["dir"], out, html_path=html)
    return {"dir": out, "html": html, "counts": counts}


def test_in_memory_counts_files_and_html(examples, in_memory):
    counts = in_memory["counts"]
    assert counts.mode == "in_memory"
    assert dict(counts) == examples["splits"]
    assert counts.num_examples == sum(examples["splits"].values())
    for split in artifacts.SPLITS:
        stats = load_statistics(in_memory["dir"], split)
        assert os.path.exists(stats_path(in_memory["dir"], split))
        ds = stats.datasets[0]
        assert ds.num_examples == examples["splits"][split] and ds.name == split
        by_name = {f.path.step[0]: f for f in ds.features}
        assert len(by_name) == 14
        # missing values counted: account_age_days is sometimes empty, amount never
        age = by_name["account_age_days"].num_stats.common_stats
        assert 0 < age.num_missing < ds.num_examples
        assert by_name["amount"].num_stats.common_stats.num_missing == 0
        assert by_name["channel"].string_stats.unique == 3
    html = open(in_memory["html"]).read()
    assert 'data-chart="histograms"' in html and "train vs eval" in html and "<script" not in html


def test_beam_path_gives_the_same_statistics(examples, in_memory, tmp_path):
    """The Beam path (DirectRunner here, as a distributed runner would run it): same statistics, same counts."""
    counts = compute_statistics(examples["dir"], str(tmp_path / "beam"), mode="beam")
    assert counts.mode == "beam" and dict(counts) == examples["splits"]
    for split in artifacts.SPLITS:
        assert_same_statistics(
            _as_dict(load_statistics(in_memory["dir"], split)), _as_dict(load_statistics(str(tmp_path / "beam"), split))
        )


def test_beam_multi_processing_same_statistics_and_row_counts(examples, in_memory, tmp_path):
    """TFDV once silently dropped rows in multi_processing mode: counts and content must match in_memory."""
    args = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    counts = compute_statistics(examples["dir"], str(tmp_path / "mp"), beam_pipeline_args=args, mode="beam")
    assert dict(counts) == examples["splits"]
    for split in artifacts.SPLITS:
        assert_same_statistics(
            _as_dict(load_statistics(in_memory["dir"], split)), _as_dict(load_statistics(str(tmp_path / "mp"), split))
        )


def test_mode_choice():
    # a local runner streams whatever the size (Beam's DirectRunner held the whole 7.8 GB split of 15M rows)
    assert choose_mode([]) == "in_memory"
    assert choose_mode(["--direct_running_mode=multi_processing"]) == "in_memory"
    assert choose_mode(["--runner=DirectRunner"]) == "in_memory"
    assert choose_mode(["--runner=DataflowRunner", "--project=p"]) == "beam"
    assert choose_mode(["--runner", "FlinkRunner"]) == "beam"


def test_undercount_is_an_error_and_nothing_is_written(examples, tmp_path):
    import shutil

    bad = tmp_path / "examples"
    shutil.copytree(examples["dir"], bad)
    meta = examples_layout.read_meta(str(bad))
    meta["splits"]["eval"] += 1  # pretend ingest wrote one more row than the files hold
    examples_layout.write_meta(str(bad), meta)
    with pytest.raises(StatisticsError, match="count .* examples but ingest wrote"):
        compute_statistics(str(bad), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_missing_examples_is_a_clear_error(tmp_path):
    with pytest.raises(StatisticsError, match="no examples under"):
        compute_statistics(str(tmp_path), str(tmp_path / "out"))


def test_statistics_from_csv_matches_the_examples(examples, in_memory):
    stats = statistics_from_csv(examples["csv"])
    ds = stats.datasets[0]
    assert ds.num_examples == sum(examples["splits"].values())
    by_name = {f.path.step[0]: f for f in ds.features}
    import pandas as pd

    df = pd.read_csv(examples["csv"])
    assert set(by_name) == set(df.columns)
    amount = by_name["amount"].num_stats
    assert amount.mean == pytest.approx(df["amount"].mean(), rel=1e-6)
    assert amount.common_stats.num_missing == 0
    assert (
        by_name["distance_from_home_km"].num_stats.common_stats.num_missing == df["distance_from_home_km"].isna().sum()
    )
    assert by_name["account_age_days"].num_stats.common_stats.num_missing == df["account_age_days"].isna().sum()
    top = {v.value: v.frequency for v in by_name["channel"].string_stats.top_values}
    assert top == {k: float(v) for k, v in df["channel"].value_counts().items()}
    # the CSV's statistics are the merge of the splits' (same generators): counts add up
    train = {f.path.step[0]: f for f in load_statistics(in_memory["dir"], "train").datasets[0].features}
    evals = {f.path.step[0]: f for f in load_statistics(in_memory["dir"], "eval").datasets[0].features}
    for name in ("amount", "account_age_days"):
        total = by_name[name].num_stats.common_stats.num_non_missing
        assert (
            total
            == train[name].num_stats.common_stats.num_non_missing + evals[name].num_stats.common_stats.num_non_missing
        )
    import tensorflow_data_validation as tfdv

    assert tfdv.infer_schema(stats).feature


def test_statistics_of_streamed_shards_equal_the_whole_file_ingest(tmp_path, monkeypatch):
    """Statistics over many small shards written chunk by chunk are byte-identical to those kfx computed when ingest
    read the whole file into one shard per split (digests taken before the change)."""
    from components.ingest import logic as ingest_logic
    from tests.testdata import golden_examples as golden

    monkeypatch.setattr(ingest_logic.reading, "BLOCK_BYTES", 4096)
    src = golden.write_late_types_csv(str(tmp_path / "late.csv"))
    ingest_csv(src, str(tmp_path / "ex"), shard_bytes=20_000)
    counts = compute_statistics(str(tmp_path / "ex"), str(tmp_path / "st"))
    assert dict(counts) == golden.SPLITS
    for split in artifacts.SPLITS:
        assert golden.file_digest(stats_path(str(tmp_path / "st"), split)) == golden.STATS_SHA256[split], split


def test_columnar_copies_give_byte_identical_statistics_to_decoding_the_tfrecords(tmp_path, monkeypatch):
    """Ingest writes a columnar copy of every shard; statistics read from the copies are byte-for-byte those
    computed by decoding the TFRecords (many shards, batches crossing shard boundaries); without a complete set of
    copies the TFRecords are decoded."""
    from components.ingest import logic as ingest_logic
    from components.statistics import logic as stats_logic
    from tests.testdata import golden_examples as golden

    monkeypatch.setattr(ingest_logic.reading, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(stats_logic, "CHUNK_ROWS", 700)  # batches cross shard and chunk boundaries
    src = golden.write_late_types_csv(str(tmp_path / "late.csv"))
    ex = str(tmp_path / "ex")
    ingest_csv(src, ex, shard_bytes=20_000)
    for split in artifacts.SPLITS:
        copies = examples_layout.columnar_files(ex, split)
        assert copies and len(copies) == len(examples_layout.split_files(ex, split)) > 2
    fast = compute_statistics(ex, str(tmp_path / "columnar"))
    slow = compute_statistics(ex, str(tmp_path / "decoded"), columnar=False)
    assert (fast.reader, slow.reader) == ("columnar", "tfrecord")
    assert dict(fast) == dict(slow) == golden.SPLITS
    for split in artifacts.SPLITS:
        a = golden.file_digest(stats_path(str(tmp_path / "columnar"), split))
        assert a == golden.file_digest(stats_path(str(tmp_path / "decoded"), split)), split

    os.remove(examples_layout.columnar_files(ex, "eval")[-1])  # one copy missing: that split is decoded
    partial = compute_statistics(ex, str(tmp_path / "partial"))
    assert partial.reader == "columnar,tfrecord"
    decoded_eval = golden.file_digest(stats_path(str(tmp_path / "decoded"), "eval"))
    assert golden.file_digest(stats_path(str(tmp_path / "partial"), "eval")) == decoded_eval


def test_splits_in_parallel_processes_give_the_bytes_of_one_process(examples, tmp_path, monkeypatch):
    """With two or three CPUs the features are dealt into groups computed in forked processes beside this one's:
    the statistics files are byte-identical to those computed one split after the other in one process; a
    failure in any process is a StatisticsError naming the split."""
    from components.statistics import logic as stats_logic

    outs = {}
    for cpus in (1, 2, 3):
        monkeypatch.setattr(stats_logic, "available_cpus", lambda cpus=cpus: cpus)
        outs[cpus] = str(tmp_path / f"cpus{cpus}")
        counts = compute_statistics(examples["dir"], outs[cpus])
        assert dict(counts) == examples["splits"] and counts.reader == "columnar"
    for split in artifacts.SPLITS:
        for cpus in (2, 3):
            with open(stats_path(outs[1], split), "rb") as a, open(stats_path(outs[cpus], split), "rb") as b:
                assert a.read() == b.read(), (split, cpus)

    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(examples["dir"], broken)
    with open(examples_layout.columnar_files(str(broken), "eval")[0], "r+b") as f:
        f.truncate(64)  # a damaged columnar copy of the split the worker process reads
    with pytest.raises(StatisticsError, match="split 'eval'"):
        compute_statistics(str(broken), str(tmp_path / "never"))


def test_feature_groups_deal_each_type_evenly_in_schema_order():
    """One group per CPU, each with a like share of the string and numeric features, in the schema's order; never
    an empty group (fewer groups than CPUs when there are fewer features)."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = examples_layout.columns_schema({"b": "string", "n1": "int", "a": "string", "n2": "float", "n3": "int"})
    groups = feature_groups(schema, 2)
    assert sorted(sum(groups, [])) == ["a", "b", "n1", "n2", "n3"]
    kinds = {f.name: f.type for f in schema.feature}
    assert [sum(kinds[n] == schema_pb2.BYTES for n in g) for g in groups] == [1, 1]
    order = [f.name for f in schema.feature]
    assert all(g == sorted(g, key=order.index) for g in groups)
    assert feature_groups(examples_layout.columns_schema({"x": "int"}), 4) == [["x"]]


def _killed_by_the_oom_killer() -> None:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def test_a_feature_group_process_killed_for_memory_fails_with_what_to_do():
    from components.statistics.parallel import ParallelError, run_parallel

    with pytest.raises(ParallelError) as e:
        run_parallel([(sum, ([1, 2],)), (_killed_by_the_oom_killer, ())], ["group 1", "group 2"])
    message = str(e.value)
    assert "group 2" in message and "exit -9" in message and "killed by signal 9" in message
    assert "more memory" in message and "fewer CPUs" in message
