"""Ingest: CSV -> tf.Example TFRecords; typing, missing values, deterministic split, clear errors."""

from __future__ import annotations

import hashlib
import os
import re

import pytest

from components._shared import artifacts  # first: components/__init__ sets the TF env before TensorFlow loads
from components._shared.artifacts import examples as layout
from components._shared.artifacts import examples_writers
from components.ingest import logic as ingest_logic
from components.ingest.logic import IngestError, ingest_csv, load_split, read_examples_meta, split_to_pandas
from tests.testdata import golden_examples as golden

pytestmark = pytest.mark.unit


def _write(path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _rows_csv(n: int, start: int = 0) -> str:
    lines = ["id,amount,cat,count,note"]
    for i in range(start, start + n):
        count = "" if i % 7 == 0 else str(i % 5)  # integral with missing cells: stays int
        note = "" if i % 3 == 0 else f"n{i % 4}"
        lines.append(f"{i},{i * 0.5 + 0.25},c{i % 3},{count},{note}")
    return "\n".join(lines) + "\n"


def test_types_missing_values_and_layout(tmp_path):
    import tensorflow as tf

    src = _write(tmp_path / "d.csv", _rows_csv(400))
    out = str(tmp_path / "ex")
    result = ingest_csv(src, out, eval_fraction=0.25)

    assert result.rows == 400
    assert sum(result.splits.values()) == 400 and set(result.splits) == {"train", "eval"}
    assert result.columns == {"id": "int", "amount": "float", "cat": "string", "count": "int", "note": "string"}
    for split in artifacts.SPLITS:
        assert layout.split_files(out, split) == [os.path.join(out, split, "part-00000.tfrecord")]
    meta = read_examples_meta(out)
    assert meta["columns"] == result.columns and meta["splits"] == result.splits and meta["source"] == src
    with open(src, "rb") as f:  # lineage: the content hash of exactly the bytes ingested
        assert meta["source_sha256"] == result.source_sha256 == hashlib.sha256(f.read()).hexdigest()

    # empty cells: no value in the example; tf.io.parse_example sees them as missing (default used)
    rec = next(iter(tf.data.TFRecordDataset(layout.split_files(out, "train"))))
    example = tf.train.Example.FromString(rec.numpy())
    row_id = example.features.feature["id"].int64_list.value[0]
    count = example.features.feature["count"]
    assert (len(count.int64_list.value) == 0) == (row_id % 7 == 0)

    # round trip through tfx_bsl's decoder: every row, every value
    frames = [split_to_pandas(out, s) for s in artifacts.SPLITS]
    import pandas as pd

    df = pd.concat(frames).sort_values("id").reset_index(drop=True)
    assert list(df.columns) == ["id", "amount", "cat", "count", "note"]
    assert df["id"].tolist() == list(range(400))
    assert df["amount"].tolist() == pytest.approx([i * 0.5 + 0.25 for i in range(400)])
    assert df["count"].isna().sum() == len([i for i in range(400) if i % 7 == 0])
    assert df.loc[1, "cat"] == "c1" and df["note"].isna().sum() == len(range(0, 400, 3))
    batch = load_split(out, "eval")
    assert batch.num_rows == result.splits["eval"]


def test_split_is_deterministic_by_row_content(tmp_path):
    a = ingest_csv(_write(tmp_path / "a.csv", _rows_csv(1000)), str(tmp_path / "a"), eval_fraction=0.3)
    # a different file sharing rows 500..999 (in another order, with other rows around them)
    lines = _rows_csv(1000, start=500).splitlines()
    shuffled = "\n".join([lines[0], *reversed(lines[1:])]) + "\n"
    b = ingest_csv(_write(tmp_path / "b.csv", shuffled), str(tmp_path / "b"), eval_fraction=0.3)

    def eval_ids(out):
        return set(split_to_pandas(out, "eval")["id"])

    ids_a, ids_b = eval_ids(str(tmp_path / "a")), eval_ids(str(tmp_path / "b"))
    shared = set(range(500, 1000))
    assert ids_a & shared == ids_b & shared
    # the ratio is honoured (hash split: binomial noise only)
    assert 0.25 < a.splits["eval"] / a.rows < 0.35 and 0.25 < b.splits["eval"] / b.rows < 0.35
    # the same file and seed again: byte-identical records; another seed: another split
    again = ingest_csv(str(tmp_path / "a.csv"), str(tmp_path / "a2"), eval_fraction=0.3)
    assert again.splits == a.splits
    assert eval_ids(str(tmp_path / "a2")) == ids_a
    other = ingest_csv(str(tmp_path / "a.csv"), str(tmp_path / "a3"), eval_fraction=0.3, seed=7)
    assert eval_ids(str(tmp_path / "a3")) != ids_a and other.rows == 1000


def test_string_in_numeric_column_makes_it_string_and_floats_win_over_ints(tmp_path):
    lines = ["x,y,z"] + [f"{i},{'oops' if i == 13 else i},c{i % 3}" for i in range(40)]
    result = ingest_csv(_write(tmp_path / "d.csv", "\n".join(lines)), str(tmp_path / "o"), eval_fraction=0.5)
    assert result.columns == {"x": "int", "y": "string", "z": "string"}
    lines = ["x,y"] + [f"{i},{i if i % 2 else i + 0.5}" for i in range(50)]
    r2 = ingest_csv(_write(tmp_path / "e.csv", "\n".join(lines)), str(tmp_path / "o2"))
    assert r2.columns == {"x": "int", "y": "float"}


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("empty.csv", "", "is empty"),
        ("header.csv", "a,b,c\n", "no data rows"),
        ("ragged.csv", "a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n", "line 4 has 2 cells but the header has 3 columns"),
        ("dups.csv", "a,b,a\n1,2,3\n", "duplicate column name(s) ['a']"),
        ("blank.csv", "a,,c\n1,2,3\n", "have no name"),
    ],
)
def test_bad_files_raise_before_writing(tmp_path, name, text, message):
    out = tmp_path / "out"
    with pytest.raises(IngestError, match=None) as err:
        ingest_csv(_write(tmp_path / name, text), str(out))
    assert message in str(err.value) and name in str(err.value)
    assert not out.exists()


def test_quoted_commas_and_newlines_stay_in_their_cell(tmp_path):
    lines = ["id,text"] + [f'{i},"a, b\nline {i}"' for i in range(60)]
    out = str(tmp_path / "o")
    result = ingest_csv(_write(tmp_path / "q.csv", "\n".join(lines) + "\n"), out)
    assert result.rows == 60 and result.columns == {"id": "int", "text": "string"}
    df = split_to_pandas(out, "train")
    assert set(df["text"]) <= {f"a, b\nline {i}" for i in range(60)}


def test_missing_file_and_bad_fraction(tmp_path):
    with pytest.raises(IngestError, match="does not exist"):
        ingest_csv(str(tmp_path / "nope.csv"), str(tmp_path / "out"))
    with pytest.raises(IngestError, match="does not exist"):
        ingest_csv("ram://kfx-test/nope.csv", str(tmp_path / "out"))
    with pytest.raises(IngestError, match="eval_fraction"):
        ingest_csv(_write(tmp_path / "d.csv", _rows_csv(10)), str(tmp_path / "out"), eval_fraction=1.0)
    assert not (tmp_path / "out").exists()


def test_tiny_file_with_an_empty_split_is_a_clear_error(tmp_path):
    with pytest.raises(IngestError, match="got 0 of 1 rows"):
        ingest_csv(_write(tmp_path / "one.csv", "a,b\n1,2\n"), str(tmp_path / "out"))


def test_gfile_uri_in_and_out(tmp_path):
    """Any tf.io.gfile scheme works (TF's in-memory ram:// filesystem stands in for gs:// / s3://)."""
    import tensorflow as tf

    src = "ram://kfx-ingest-test/in/d.csv"
    tf.io.gfile.makedirs("ram://kfx-ingest-test/in")
    with tf.io.gfile.GFile(src, "w") as f:
        f.write(_rows_csv(300))
    out = "ram://kfx-ingest-test/out"
    result = ingest_csv(src, out)
    local = ingest_csv(_write(tmp_path / "d.csv", _rows_csv(300)), str(tmp_path / "local"))
    assert result.splits == local.splits and result.columns == local.columns
    assert load_split(out, "train").num_rows == result.splits["train"]
    assert read_examples_meta(out)["source"] == src
    # the columnar copies are written and read through gfile too: same statistics as the local artifact's
    from components._shared.artifacts.statistics import read_statistics
    from components.statistics.logic import compute_statistics

    assert layout.columnar_files(out, "train")
    remote = compute_statistics(out, "ram://kfx-ingest-test/stats")
    here = compute_statistics(str(tmp_path / "local"), str(tmp_path / "stats"))
    assert remote.reader == here.reader == "columnar" and dict(remote) == dict(here) == result.splits
    for split in artifacts.SPLITS:
        a, b = read_statistics("ram://kfx-ingest-test/stats", split), read_statistics(str(tmp_path / "stats"), split)
        assert a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)


def test_taxi_table_row_count_exact():
    taxi = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "chicago_taxi", "data.csv")
    if not os.path.exists(taxi):
        pytest.skip("taxi sample not present")
    import tempfile

    import pandas as pd

    expected = len(pd.read_csv(taxi))
    with tempfile.TemporaryDirectory() as d:
        r = ingest_csv(taxi, d)
        assert r.rows == expected == sum(r.splits.values())
        assert r.columns["payment_type"] == "string" and r.columns["pickup_community_area"] == "int"
        assert r.columns["fare"] == "float"
        assert load_split(d, "eval").num_rows == r.splits["eval"]


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Stream the CSV in 4 KiB chunks, so a 3,000-row file is ~20 chunks and types show only in late ones."""
    monkeypatch.setattr(ingest_logic.reading, "BLOCK_BYTES", 4096)


def test_streamed_shards_reproduce_the_whole_file_ingest_exactly(tmp_path, tiny_chunks):
    """Types revealed in late chunks are right, and the records (split, order, values) are byte-for-byte what the
    whole-file ingest wrote, now spread over several shards per split."""
    src = golden.write_late_types_csv(str(tmp_path / "late.csv"))
    out = str(tmp_path / "ex")
    result = ingest_csv(src, out, shard_bytes=20_000)
    assert result.columns == golden.COLUMNS
    assert result.splits == golden.SPLITS and result.rows == 3000
    meta = read_examples_meta(out)
    for split in artifacts.SPLITS:
        files = layout.split_files(out, split)
        assert len(files) > 2 and files == result.files[split]
        assert [os.path.basename(f) for f in files] == [layout.shard_name(i) for i in range(len(files))]
        assert meta["shards"][split] == len(files)
        assert golden.records_digest(files) == golden.RECORDS_SHA256[split], split
    assert meta["column_order"] == list(golden.COLUMNS)
    df = split_to_pandas(out, "train")
    assert df["late_float"].dtype.kind == "f" and df["late_str"].dtype == object


def test_type_widening_needs_every_chunk():
    """The scan's rule: a column takes the widest type any chunk needs (int < float < string)."""
    import pyarrow as pa

    assert ingest_logic.chunk_type(pa.array(["1", " 2", None])) == "int"
    assert ingest_logic.chunk_type(pa.array(["1", "2.5"])) == "float"
    assert ingest_logic.chunk_type(pa.array(["1", "x"])) == "string"
    assert ingest_logic.chunk_type(pa.array(["1", "2"]), at_least="float") == "float"
    assert ingest_logic.chunk_type(pa.array([None, None], pa.string())) == "int"


def test_row_hashes_equal_pandas_hash_of_the_texts_for_every_column_shape():
    """Distinct-heavy columns (hashed directly) and repetitive ones (through a dictionary) hash each cell's text
    exactly as ``pd.util.hash_array`` of the Python strings does (the split kfx has always used)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    n = 10_000
    rng = np.random.default_rng(1)
    texts = {
        "distinct": [f"{v:.6f}" for v in rng.lognormal(3, 1, n)],
        "repeats": [f"c{k}" for k in rng.integers(0, 7, n)],
        "with_missing": [None if k == 0 else f"é{k}" for k in rng.integers(0, 3, n)],
    }
    batch = pa.RecordBatch.from_arrays([pa.array(v, pa.string()) for v in texts.values()], names=list(texts))
    expected = np.full(n, np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(5))
    with np.errstate(over="ignore"):
        for values in texts.values():
            cells = np.array(["" if v is None else v for v in values], dtype=object)
            expected = (expected * np.uint64(1_000_003)) ^ pd.util.hash_array(cells, categorize=True)
        for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB), (31, None)):
            expected ^= expected >> np.uint64(shift)
            if mult:
                expected *= np.uint64(mult)
    assert (ingest_logic.row_hashes(batch, seed=5) == expected).all()
    assert (ingest_logic.row_hashes(pa.Table.from_batches([batch.slice(0, 10), batch.slice(10)]), 5) == expected).all()


def _tree_bytes(root: str) -> dict[str, bytes]:
    """Every shard and columnar copy under an examples folder, by relative path."""
    out = {}
    for split in artifacts.SPLITS:
        for name in sorted(os.listdir(os.path.join(root, split))):
            with open(os.path.join(root, split, name), "rb") as f:
                out[f"{split}/{name}"] = f.read()
    return out


def _two_pass_reference(src: str, out: str, shard_bytes: int) -> None:
    """The ingest before the single read: scan the whole file (types, split), then cast + write every chunk."""
    opener, scan = ingest_logic.scan_csv(src)
    writers = {s: examples_writers.ShardWriter(out, s, shard_bytes, columnar=True) for s in artifacts.SPLITS}
    for batch, is_eval in ingest_logic.typed_batches(opener, scan, src):
        writers["train"].write(batch.filter(~is_eval))
        writers["eval"].write(batch.filter(is_eval))
    for w in writers.values():
        w.close()


@pytest.fixture
def pool_sizes(monkeypatch):
    """Record the worker count of every ChunkPool ingest starts."""
    from components.ingest import chunks

    sizes: list[int] = []
    real = chunks.ChunkPool.__init__

    def init(self, workers):  # noqa: ANN001, ANN202
        sizes.append(workers)
        real(self, workers)

    monkeypatch.setattr(chunks.ChunkPool, "__init__", init)
    return sizes


@pytest.mark.parametrize("workers", [1, 2])
def test_single_read_with_worker_processes_writes_the_bytes_of_the_two_pass_ingest(
    tmp_path, tiny_chunks, monkeypatch, pool_sizes, workers
):
    """Types settled in the first chunk: one read of the CSV, chunks encoded in ``workers`` processes and
    appended in chunk order: every shard and columnar copy is byte-identical to the two-pass, one-process ingest's
    (same records, same shard boundaries)."""
    monkeypatch.setattr(ingest_logic, "available_cpus", lambda: workers)
    src = _write(tmp_path / "d.csv", _rows_csv(4000))
    _two_pass_reference(src, str(tmp_path / "ref"), 20_000)
    result = ingest_csv(src, str(tmp_path / "ex"), shard_bytes=20_000)
    assert pool_sizes == [workers]  # one read, one pool: no fallback
    assert result.rows == 4000 and result.columns == {
        "id": "int",
        "amount": "float",
        "cat": "string",
        "count": "int",
        "note": "string",
    }
    got, ref = _tree_bytes(str(tmp_path / "ex")), _tree_bytes(str(tmp_path / "ref"))
    assert len(got) > 8 and got.keys() == ref.keys()
    assert all(got[k] == ref[k] for k in ref), [k for k in ref if got[k] != ref[k]]


def test_workers_writing_into_an_existing_output_folder_leave_no_stale_bytes(tmp_path, tiny_chunks, monkeypatch):
    """Worker processes write the records into the shards themselves, each at the place its chunk reserved: over
    the shards of an earlier, larger ingest in the same folder the shards are still exactly a fresh ingest's."""
    monkeypatch.setattr(ingest_logic, "available_cpus", lambda: 2)
    out = str(tmp_path / "ex")
    ingest_csv(_write(tmp_path / "big.csv", _rows_csv(6000, start=7)), out, shard_bytes=20_000)
    src = _write(tmp_path / "d.csv", _rows_csv(4000))
    ingest_csv(src, out, shard_bytes=20_000)
    ingest_csv(src, str(tmp_path / "fresh"), shard_bytes=20_000)
    got, fresh = _tree_bytes(out), _tree_bytes(str(tmp_path / "fresh"))
    assert {k: v for k, v in got.items() if k in fresh} == fresh
    assert len(fresh) > 8


@pytest.mark.parametrize("workers", [1, 2])
def test_a_type_widening_in_a_late_chunk_rewrites_with_the_whole_file_types(
    tmp_path, tiny_chunks, monkeypatch, pool_sizes, workers
):
    """The first chunk's types don't hold (a float at row 2,500, a string at 2,900): ingest drops what it wrote
    and writes again with the whole file's types; records and statistics match the digests of the whole-file
    ingest, with worker processes or without."""
    from components._shared.artifacts.statistics import read_statistics
    from components.statistics.logic import compute_statistics

    monkeypatch.setattr(ingest_logic, "available_cpus", lambda: workers)
    src = golden.write_late_types_csv(str(tmp_path / "late.csv"))
    out = str(tmp_path / "ex")
    result = ingest_csv(src, out, shard_bytes=20_000)
    assert pool_sizes == [workers, workers]  # the single read, then the rewrite
    assert result.columns == golden.COLUMNS and result.splits == golden.SPLITS
    assert all(golden.records_digest(layout.split_files(out, s)) == golden.RECORDS_SHA256[s] for s in golden.SPLITS)
    compute_statistics(out, str(tmp_path / "stats"))
    for split in artifacts.SPLITS:
        stats = read_statistics(str(tmp_path / "stats"), split).SerializeToString(deterministic=True)
        assert hashlib.sha256(stats).hexdigest() == golden.STATS_SHA256[split], split


def test_an_error_after_chunks_were_written_leaves_nothing_behind(tmp_path, tiny_chunks, monkeypatch):
    """A ragged row near the end shows only once shards were written: the error names its line, and neither the
    output (a new folder: removed; an existing one: its split folders removed) nor the workers' spool remains."""
    import tempfile

    monkeypatch.setattr(ingest_logic, "available_cpus", lambda: 2)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    os.makedirs(tmp_path / "tmp")
    text = _rows_csv(3000).splitlines()
    text.insert(2900, "1,2")
    src = _write(tmp_path / "r.csv", "\n".join(text) + "\n")
    for out, existed in ((tmp_path / "new", False), (tmp_path / "old", True)):
        if existed:
            out.mkdir()
            (out / "keep.txt").write_text("mine")
        with pytest.raises(IngestError, match="line 2901 has 2 cells"):
            ingest_csv(src, str(out))
        assert sorted(os.listdir(out)) == ["keep.txt"] if existed else not out.exists()
    assert os.listdir(tmp_path / "tmp") == []


def test_available_cpus_follows_the_affinity():
    from components._shared.cpus import available_cpus

    assert 1 <= available_cpus() <= len(os.sched_getaffinity(0))


def test_worker_count_follows_cpus_chunks_and_the_cap():
    from components.ingest.chunks import MAX_WORKERS, worker_count

    mb = 1 << 20
    assert worker_count(cpus=2, source_bytes=150 * mb, block_bytes=16 * mb) == 2
    assert worker_count(cpus=1, source_bytes=150 * mb, block_bytes=16 * mb) == 1
    assert worker_count(cpus=64, source_bytes=150 * mb, block_bytes=16 * mb) == MAX_WORKERS
    assert worker_count(cpus=8, source_bytes=40 * mb, block_bytes=16 * mb) == min(3, MAX_WORKERS)  # 3 chunks
    assert worker_count(cpus=8, source_bytes=10 * mb, block_bytes=16 * mb) == 1  # one chunk: no pool


def _cpus_in_a_daemon(queue) -> None:  # noqa: ANN001
    from components._shared.cpus import available_cpus

    queue.put(available_cpus())


def test_a_daemonic_process_gets_one_cpu_so_it_starts_no_workers():
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_cpus_in_a_daemon, args=(queue,), daemon=True)
    process.start()
    assert queue.get(timeout=60) == 1
    process.join()


def test_workers_spool_the_records_for_a_gfile_output(tmp_path, tiny_chunks, monkeypatch):
    """Workers write the records into local shards themselves; for any other URI (ram:// standing in for gs://)
    they spool them and this process writes them: the same bytes either way."""
    import tensorflow as tf

    monkeypatch.setattr(ingest_logic, "available_cpus", lambda: 2)
    src = _write(tmp_path / "d.csv", _rows_csv(4000))
    out = "ram://kfx-ingest-workers/out"
    ingest_csv(src, out, shard_bytes=20_000)
    ingest_csv(src, str(tmp_path / "local"), shard_bytes=20_000)
    local = _tree_bytes(str(tmp_path / "local"))
    assert len(local) > 8
    for name, data in local.items():
        with tf.io.gfile.GFile(f"{out}/{name}", "rb") as f:
            assert f.read() == data, name


_KILL_A_WORKER = """
import os, signal, sys, time

from components.ingest import chunks, logic

src, out, pids = sys.argv[1:]
real = chunks.process_chunk


def process_chunk(text, job, spool=None, index=None):  # the workers' task, with the fault: chunk 3's worker dies
    open(os.path.join(pids, str(os.getpid())), "w").close()
    if index == 3:
        for _ in range(600):  # once the other worker has taken a chunk (it then waits for chunk 3's turn)
            if len(os.listdir(pids)) == 2:
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
    return real(text, job, spool, index)


process_chunk.__module__, process_chunk.__qualname__ = chunks.__name__, "process_chunk"  # (pickled by name)
chunks.process_chunk = process_chunk
logic.reading.BLOCK_BYTES = 4096
logic.available_cpus = lambda: 2
try:
    logic.ingest_csv(src, out, shard_bytes=20_000)
except logic.WorkerDied as e:
    print("WorkerDied:", e)
    sys.exit(3)
"""


def _process_state(pid: int) -> str:
    """A process's state letter from /proc ("" once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return ""


def test_a_worker_killed_mid_run_fails_the_step_with_a_clear_error_and_no_process_left(tmp_path):
    """A worker process SIGKILLed while it encodes a chunk (as the out-of-memory killer does): ingest raises
    WorkerDied saying what happened and what to do, instead of hanging (``timeout`` would end the run with 124);
    the other worker, waiting for the dead chunk's turn, is ended too, and no output or spool is left behind."""
    import subprocess
    import sys

    src = _write(tmp_path / "d.csv", _rows_csv(4000))
    out, pids, tmp = tmp_path / "ex", tmp_path / "pids", tmp_path / "tmp"
    pids.mkdir()
    tmp.mkdir()
    run = subprocess.run(
        ["timeout", "120", sys.executable, "-c", _KILL_A_WORKER, src, str(out), str(pids)],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert run.returncode == 3, (run.returncode, run.stdout, run.stderr[-3000:])
    assert "worker process died abruptly" in run.stdout and "out-of-memory" in run.stdout
    assert "more memory" in run.stdout and re.search(r"while chunks \d+-\d+ of the CSV", run.stdout)
    workers = [int(p) for p in os.listdir(pids)]
    assert len(workers) == 2
    assert {pid: _process_state(pid) for pid in workers if _process_state(pid) not in ("", "Z")} == {}  # none alive
    assert not out.exists() and os.listdir(tmp) == []


_KILL_BEFORE_A_SUBMIT = """
import os, signal, sys
from concurrent.futures import wait

import pyarrow as pa

from components.ingest import chunks


def process_chunk(text, job, spool=None, index=None):  # every chunk's worker dies
    os.kill(os.getpid(), signal.SIGKILL)


process_chunk.__module__, process_chunk.__qualname__ = chunks.__name__, "process_chunk"  # (pickled by name)
chunks.process_chunk = process_chunk
text, job = pa.RecordBatch.from_pydict({"a": ["1"]}), chunks.ChunkJob({"a": "int"}, 0.5, 0, False)
with chunks.ChunkPool(2) as pool:
    list(pool.submit(text, job))
    wait([pool._pending[0][1]])  # chunk 0's worker is dead and the pool broken before the next chunk is submitted
    try:
        list(pool.submit(text, job))
    except chunks.WorkerDied as e:
        print("WorkerDied:", e)
        sys.exit(3)
"""


def test_a_worker_dead_before_the_next_chunk_is_submitted_fails_that_submit_with_the_clear_error(tmp_path):
    """The pool broke while this process was reading the next chunk: submitting it raises WorkerDied too (not
    concurrent.futures' BrokenProcessPool), and the spool folder is removed."""
    import subprocess
    import sys

    run = subprocess.run(
        ["timeout", "120", sys.executable, "-c", _KILL_BEFORE_A_SUBMIT],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert run.returncode == 3, (run.returncode, run.stdout, run.stderr[-3000:])
    assert "worker process died abruptly" in run.stdout and "while chunks 0-1 of the CSV" in run.stdout
    assert os.listdir(tmp_path) == []


def test_a_worker_waiting_for_a_turn_that_will_never_come_gives_up_when_the_pool_closes(tmp_path):
    """Chunk 1 waits for chunk 0 to take its place; chunk 0 was cancelled (the pool is closing on an error):
    the stop flag the pool sets as it closes ends the wait with an error instead of leaving the worker blocked."""
    import multiprocessing
    import threading

    from components.ingest import chunks

    turns = chunks._Turns(multiprocessing.get_context("fork"), artifacts.SPLITS)
    job = chunks.ChunkJob({}, 0.5, 0, False, output_dir=str(tmp_path), shard_bytes=1000)
    raised: list[BaseException] = []

    def wait_for_turn_1() -> None:
        try:
            turns.reserve(1, {}, job)
        except RuntimeError as e:
            raised.append(e)

    waiter = threading.Thread(target=wait_for_turn_1, daemon=True)
    waiter.start()
    turns.stopped.value = 1
    waiter.join(120)  # (a bound, not a timing: it returns as soon as the waiter gives up)
    assert not waiter.is_alive() and "stopped before chunk 1 got its place" in str(raised[0])
