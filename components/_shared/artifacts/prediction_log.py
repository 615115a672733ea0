"""The prediction log: every prediction kfx's model server made, as Parquet partitioned by time.

Layout (``<root>`` is a local directory or any ``tf.io.gfile`` URI: ``gs://``, ``s3://``)::

    <root>/date=YYYY-MM-DD/hour=HH/part-<YYYYMMDDTHHMMSSffffff>-<writer>-<seq>.parquet

Hive-style partitions (UTC) of the prediction's timestamp; ``<writer>`` is the host and process that wrote
the part (several replicas can log to one root), ``<seq>`` its part counter. A part is written under a
``_``-prefixed name and renamed when complete, so readers (pyarrow datasets ignore ``_`` files) never see
a partial part. Columns, one row per predicted row:

    request_id      string      the V2 request ``id``, the V1 ``x-request-id`` header, or a generated UUID
    row             int32       the row's index in its request
    timestamp       timestamp[us, UTC]  when the prediction was answered
    model_name      string
    model_revision  string      the serving revision (Knative's ``K_REVISION`` in a pod, else the model version)
    prediction      list<float32>  the model's output row ([k]: binary k=1 probability of class 1)
    <feature>...    one column per raw feature, as sent: int64 / float32 / string; null = omitted

The raw feature columns carry the training data's names and types, so TFDV (pyarrow 10 in the components
environment reads these files) computes statistics of served traffic directly, e.g. on
``read_log(root).drop(META_COLUMNS)``.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf

from components._shared.artifacts import register_filesystem

META_COLUMNS = ("request_id", "row", "timestamp", "model_name", "model_revision", "prediction")
PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"
_ARROW_TYPES = {"int": pa.int64(), "float": pa.float32(), "string": pa.string()}


def schema(features: dict[str, str]) -> pa.Schema:
    """The log's Arrow schema for a model with ``features`` ({name: "int" | "float" | "string"})."""
    clash = set(features) & set(META_COLUMNS)
    if clash:
        raise ValueError(f"feature name(s) {sorted(clash)} clash with the prediction log's own columns")
    meta = [
        pa.field("request_id", pa.string()),
        pa.field("row", pa.int32()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("model_name", pa.string()),
        pa.field("model_revision", pa.string()),
        pa.field("prediction", pa.list_(pa.float32())),
    ]
    return pa.schema(meta + [pa.field(f, _ARROW_TYPES[k]) for f, k in features.items()])


def partition(when: datetime) -> str:
    """The partition directory (relative) of a timestamp: ``date=YYYY-MM-DD/hour=HH`` in UTC."""
    when = when.astimezone(UTC)
    return f"date={when:%Y-%m-%d}/hour={when:%H}"


def _join(root: str, *parts: str) -> str:
    return posixpath.join(root.rstrip("/"), *parts)


def write_part(root: str, table: pa.Table, when: datetime, writer: str, seq: int) -> str:
    """Write one part of the log (rows all in ``when``'s hour); returns its path."""
    register_filesystem(root)
    directory = _join(root, partition(when))
    name = f"{PART_PREFIX}{when.astimezone(UTC):%Y%m%dT%H%M%S%f}-{writer}-{seq:06d}{PART_SUFFIX}"
    buf = io.BytesIO()
    pq.write_table(table, buf)
    tf.io.gfile.makedirs(directory)
    tmp, final = _join(directory, "_" + name), _join(directory, name)
    with tf.io.gfile.GFile(tmp, "wb") as f:
        f.write(buf.getvalue())
    tf.io.gfile.rename(tmp, final, overwrite=True)
    return final


def part_paths(root: str) -> list[str]:
    """Every complete part under ``root``, oldest partition first."""
    register_filesystem(root)
    return sorted(tf.io.gfile.glob(_join(root, "date=*", "hour=*", f"{PART_PREFIX}*{PART_SUFFIX}")))


def read_log(root: str, paths: Sequence[str] | None = None) -> pa.Table:
    """The whole log under ``root`` (or the given parts) as one table, ordered by timestamp."""
    tables = []
    for path in part_paths(root) if paths is None else paths:
        with tf.io.gfile.GFile(path, "rb") as f:
            tables.append(pq.read_table(io.BytesIO(f.read())))
    if not tables:
        return pa.table({})
    return _concat(tables).sort_by("timestamp")


def _concat(tables: list[pa.Table]) -> pa.Table:
    """Concatenate parts whose columns may differ (a model's features changed between parts)."""
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="default")  # pyarrow >= 14
    except TypeError:
        return pa.concat_tables(tables, promote=True)  # pyarrow 10 (the components environment)


def to_table(columns: dict[str, list[Any]], features: dict[str, str]) -> pa.Table:
    """The log's columns (lists or Arrow arrays; ``timestamp`` as datetimes or integer microseconds since the
    epoch, UTC) -> a table of the log's schema."""
    return pa.Table.from_pydict(columns, schema=schema(features))
