"""The examples layout (kinds ``examples`` and ``transformed_examples``): shard names, ``examples.json``, and the
one reader of tf.Example shards (decoded to Arrow by tfx-bsl's batch decoder) and of their columnar copies. The
writers (from Arrow by kfx's vectorised encoder, ``components/_shared/example_wire.py``, or of serialized records)
are in ``examples_writers.py`` beside it, naming every file through this module.

Layout::

    <dir>/examples.json                 {"columns": {name: "int"|"float"|"string"}, "column_order": [...],
                                         "splits": {split: rows}, "shards": {split: n}, "rows": n,
                                         "source": uri, "source_sha256": hex (ingest: sha256 of the CSV's bytes),
                                         "eval_fraction": f, "seed": s}
    <dir>/<split>/part-00000.tfrecord   tf.Example records (uncompressed TFRecord), several shards per split:
    <dir>/<split>/part-00001.tfrecord   a new shard starts once one passes ``SHARD_BYTES``, so a distributed
    ...                                 runner can read the shards in parallel; records keep the CSV's order
                                        across shards (read them sorted)
    <dir>/<split>/part-00000.arrow      optional columnar copy of the shard beside it (ingest writes one): the same
    ...                                 rows, in the same order, as the Arrow RecordBatches tfx-bsl decodes the
                                        shard's records into (list-typed columns, float32 floats), Arrow IPC file
                                        format. A reader may take it instead of decoding the shard only when every
                                        shard of the split has one (:func:`columnar_files`); tf.Example readers
                                        (transform, train, evaluate, TFMA, Beam) ignore it

A missing value is a feature with no value list (tfx-bsl decodes it as a null list; TFDV counts it missing).
Readers of an examples artifact (statistics, transform, train, evaluate, deploy's smoke rows, ``pipelines/serve.py``)
find its files and ``examples.json`` through this module only. The names, ``examples.json`` and :func:`read_rows`
need only TensorFlow (``pipelines/serve.py`` runs in the serving environment); the Arrow coders import pyarrow and
tfx-bsl when called.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import tensorflow as tf

from components._shared.artifacts import SPLITS, read_json, register_filesystem, write_json

if TYPE_CHECKING:
    import pyarrow as pa
    from tensorflow_metadata.proto.v0 import schema_pb2

META_FILE = "examples.json"
SHARD_PREFIX = "part-"
SHARD_SUFFIX = ".tfrecord"
#: A shard's columnar copy: ``part-00000.arrow`` beside ``part-00000.tfrecord``.
COLUMNAR_SUFFIX = ".arrow"
#: A split's next shard starts once the current one holds this many bytes of records (~64 MiB: small enough for
#: a distributed runner to spread, large enough that per-file overhead stays negligible).
SHARD_BYTES = 64 << 20
#: Records decoded per Arrow RecordBatch by default.
DECODE_BATCH_ROWS = 100_000


# ------------------------------------------------------------------------------------------------- names


def shard_name(index: int) -> str:
    """File name of a split's ``index``-th shard (``part-00000.tfrecord``)."""
    return f"{SHARD_PREFIX}{index:05d}{SHARD_SUFFIX}"


def split_dir(examples_dir: str, split: str) -> str:
    return os.path.join(examples_dir, split)


def shard_path(examples_dir: str, split: str, index: int) -> str:
    """Path of a split's ``index``-th shard."""
    return os.path.join(examples_dir, split, shard_name(index))


def beam_shard_prefix(examples_dir: str, split: str) -> tuple[str, str]:
    """``(file_path_prefix, file_name_suffix)`` for Beam's ``WriteToTFRecord``: it names the shards
    ``part-NNNNN-of-MMMMM.tfrecord``, which :func:`split_pattern` matches."""
    return os.path.join(examples_dir, split, SHARD_PREFIX.rstrip("-")), SHARD_SUFFIX


def split_pattern(examples_dir: str, split: str) -> str:
    """Glob of one split's TFRecord shards (also what TFMA's ``data_location`` and Beam sources take)."""
    return os.path.join(examples_dir, split, f"{SHARD_PREFIX}*{SHARD_SUFFIX}")


def split_files(examples_dir: str, split: str) -> list[str]:
    """One split's shards in record order; a FileNotFoundError naming the expected glob when there are none."""
    register_filesystem(examples_dir)
    files = sorted(tf.io.gfile.glob(split_pattern(examples_dir, split)))
    if not files:
        raise FileNotFoundError(
            f"no '{split}' examples under {examples_dir} (expected {split_pattern(examples_dir, split)})"
        )
    return files


def splits_present(examples_dir: str, meta: dict[str, Any] | None = None) -> list[str]:
    """The splits that have shards: ``train``, ``eval`` first, then any others ``examples.json`` names, sorted."""
    named = list((meta or {}).get("splits") or SPLITS)
    ordered = [s for s in SPLITS if s in named] + sorted(s for s in named if s not in SPLITS)
    return [s for s in ordered if tf.io.gfile.glob(split_pattern(examples_dir, s))]


# ------------------------------------------------------------------------------------------------- meta


def meta_path(examples_dir: str) -> str:
    return os.path.join(examples_dir, META_FILE)


def read_meta(examples_dir: str, required: bool = True) -> dict[str, Any]:
    """``examples.json`` of an examples artifact; ``{}`` when absent and not ``required``."""
    register_filesystem(examples_dir)
    path = meta_path(examples_dir)
    if not tf.io.gfile.exists(path):
        if not required:
            return {}
        raise FileNotFoundError(f"{path} not found: {examples_dir} is not an examples artifact (no {META_FILE})")
    return read_json(path)


def write_meta(examples_dir: str, meta: dict[str, Any]) -> None:
    write_json(meta_path(examples_dir), meta)


def column_order(meta: dict[str, Any]) -> list[str]:
    """The columns in the source's order (``examples.json`` sorts its keys; ``column_order`` keeps the order)."""
    return list(meta.get("column_order") or meta.get("columns") or [])


def columns_schema(columns: dict[str, str]) -> schema_pb2.Schema:
    """A bare TFMD schema (names + types only) for kfx column types (``int`` / ``float`` / ``string``)."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    types = {"int": schema_pb2.INT, "float": schema_pb2.FLOAT, "string": schema_pb2.BYTES}
    schema = schema_pb2.Schema()
    for name, kind in columns.items():
        schema.feature.add(name=name, type=types[kind])
    return schema


# ----------------------------------------------------------------------------------------------- encode


def to_list_array(col: pa.Array) -> pa.Array:
    """One value per row as a list array; a null cell becomes a null list (no value in the example).

    Floats become float32 (tf.Example's float_list), exactly as tfx-bsl decodes them back.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    valid = col.is_valid()
    counts = pc.cast(valid, pa.int64()).to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(col) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    values = col.drop_null() if col.null_count else col
    if pa.types.is_floating(values.type):
        values = values.cast(pa.float32())
    return pa.LargeListArray.from_arrays(
        pa.array(offsets, pa.int64()), values, mask=pc.invert(valid) if col.null_count else None
    )


def to_list_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A batch of scalar columns as the list-typed batch tfx-bsl encodes (and decodes)."""
    import pyarrow as pa

    return pa.RecordBatch.from_arrays([to_list_array(c) for c in batch.columns], names=batch.schema.names)


# ----------------------------------------------------------------------------------------------- decode


def iter_records(files: Sequence[str]) -> Iterator[bytes]:
    """Serialized records of TFRecord files (any gfile URI; ``.gz`` files are read as GZIP), CRC-checked.

    TF's C++ record reader without tf.data's start-up cost (~1 s per process), which dominates small splits.
    """
    from components._shared._compat.tensorflow import tf_record_iterator

    for path in files:
        options = tf.io.TFRecordOptions("GZIP") if path.endswith(".gz") else None
        yield from tf_record_iterator(path, options)


def read_records(examples_dir: str, split: str, n: int | None = None) -> list[bytes]:
    """The first ``n`` (all when None) serialized tf.Examples of a split, in record order."""
    out: list[bytes] = []
    for record in iter_records(split_files(examples_dir, split)):
        if n is not None and len(out) >= n:
            break
        out.append(record)
    return out


def example_row(example: Any, drop: Collection[str] = ()) -> dict[str, Any]:
    """A ``tf.train.Example`` (or its serialized bytes) as {feature: scalar}, sorted by name: strings decoded,
    features without exactly one value (missing, or multivalent) and those in ``drop`` left out."""
    if isinstance(example, bytes):
        example = tf.train.Example.FromString(example)
    row: dict[str, Any] = {}
    for name, feature in sorted(example.features.feature.items()):
        kind = feature.WhichOneof("kind")
        values = getattr(feature, kind).value if kind else ()
        if name in drop or len(values) != 1:
            continue
        value = values[0]
        row[name] = value.decode("utf-8") if isinstance(value, bytes) else value
    return row


def read_rows(examples_dir: str, split: str = "eval", n: int = 8, drop: Collection[str] = ()) -> list[dict[str, Any]]:
    """The first ``n`` raw rows of a split as {feature: scalar} dicts (:func:`example_row`), in record order."""
    return [example_row(r, drop) for r in read_records(examples_dir, split, n)]


def decode_batches(
    files: Sequence[str], schema: schema_pb2.Schema | None = None, batch_size: int = DECODE_BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Arrow RecordBatches (list-typed columns) of the tf.Examples in ``files``, by tfx-bsl's C++ batch decoder.

    Batches hold ``batch_size`` records whatever the shard boundaries. With ``schema`` every schema feature is a
    column, typed as declared, even where a batch has no value for it.
    """
    from tfx_bsl.coders import example_coder

    decoder = example_coder.ExamplesToRecordBatchDecoder(schema.SerializeToString() if schema else None)
    chunk: list[bytes] = []
    for record in iter_records(files):
        chunk.append(record)
        if len(chunk) >= batch_size:
            yield decoder.DecodeBatch(chunk)
            chunk = []
    if chunk:
        yield decoder.DecodeBatch(chunk)


def columnar_path(shard: str) -> str:
    """The columnar copy of a TFRecord shard (``part-00000.tfrecord`` -> ``part-00000.arrow``)."""
    return shard[: -len(SHARD_SUFFIX)] + COLUMNAR_SUFFIX if shard.endswith(SHARD_SUFFIX) else shard + COLUMNAR_SUFFIX


def columnar_files(examples_dir: str, split: str) -> list[str] | None:
    """The columnar copies of a split's shards, in record order; None unless every shard has one."""
    copies = [columnar_path(f) for f in split_files(examples_dir, split)]
    return copies if all(tf.io.gfile.exists(c) for c in copies) else None


def read_columnar(
    files: Sequence[str], batch_size: int = DECODE_BATCH_ROWS, columns: Sequence[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """The rows of columnar copies as RecordBatches of ``batch_size`` rows whatever the file and batch boundaries:
    the batches :func:`decode_batches` gives for the shards (same types, values and batch sizes); ``columns``
    selects and orders the columns (a KeyError naming the file when one is absent).

    A local file is memory-mapped; any other URI is read whole through ``tf.io.gfile``, one file at a time.
    """
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    held = 0
    for path in files:
        if "://" not in path:
            source = pa.memory_map(path)
        else:  # one shard's copy in memory (tens of MB at SHARD_BYTES)
            with tf.io.gfile.GFile(path, "rb") as f:
                source = pa.BufferReader(f.read())
        with source, pa.ipc.open_file(source) as reader:
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                if columns is not None:
                    missing = [c for c in columns if c not in batch.schema.names]
                    if missing:
                        raise KeyError(f"columnar copy {path} has no column(s) {missing}")
                    index = batch.schema.get_field_index
                    batch = pa.RecordBatch.from_arrays([batch.column(index(c)) for c in columns], names=list(columns))
                pending.append(batch)
                held += batch.num_rows
                while held >= batch_size:
                    table = pa.Table.from_batches(pending)
                    yield table.slice(0, batch_size).combine_chunks().to_batches()[0]
                    rest = table.slice(batch_size)
                    pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def iter_split_batches(
    examples_dir: str, split: str, batch_size: int = DECODE_BATCH_ROWS, columns: dict[str, str] | None = None
) -> Iterator[pa.RecordBatch]:
    """One split as Arrow RecordBatches (list-typed columns), typed by ``columns`` or by ``examples.json``."""
    if columns is None:
        columns = read_meta(examples_dir, required=False).get("columns")
    schema = columns_schema(columns) if columns else None
    yield from decode_batches(split_files(examples_dir, split), schema, batch_size)


def load_split(examples_dir: str, split: str, columns: Sequence[str] | None = None) -> pa.RecordBatch:
    """All examples of one split as one Arrow RecordBatch (list-typed columns, as tfx-bsl decodes them).

    Columns come in the source's order; ``columns`` keeps only those (in that order).
    """
    table = _concat(iter_split_batches(examples_dir, split), f"split {split!r} of {examples_dir} has no examples")
    if columns is None:
        order = column_order(read_meta(examples_dir, required=False))
        if order and sorted(order) == sorted(table.column_names):
            table = table.select(order)
    else:
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise KeyError(f"column(s) {missing} not in split {split!r} of {examples_dir}")
        table = table.select(list(columns))
    return table.combine_chunks().to_batches()[0]


def _concat(batches: Iterable[pa.RecordBatch], empty_message: str) -> pa.Table:
    import pyarrow as pa

    batches = list(batches)
    if not batches:
        raise ValueError(empty_message)
    return pa.Table.from_batches(batches)


def split_to_pandas(examples_dir: str, split: str) -> Any:
    """One split as a pandas DataFrame with one scalar per cell (None/NaN where the value is missing)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    batch = load_split(examples_dir, split)
    data = {}
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        flat = pc.list_element(col, 0) if len(col) else col.flatten()
        if pa.types.is_large_binary(flat.type) or pa.types.is_binary(flat.type):
            flat = flat.cast(pa.large_string())
        data[name] = flat.to_pandas()
    return pd.DataFrame(data)


__all__ = [
    "DECODE_BATCH_ROWS",
    "META_FILE",
    "SHARD_BYTES",
    "COLUMNAR_SUFFIX",
    "columnar_files",
    "columnar_path",
    "column_order",
    "columns_schema",
    "decode_batches",
    "example_row",
    "iter_records",
    "iter_split_batches",
    "load_split",
    "meta_path",
    "read_meta",
    "read_columnar",
    "read_records",
    "read_rows",
    "beam_shard_prefix",
    "shard_name",
    "shard_path",
    "split_dir",
    "split_files",
    "split_pattern",
    "split_to_pandas",
    "splits_present",
    "to_list_array",
    "to_list_batch",
    "write_meta",
]
