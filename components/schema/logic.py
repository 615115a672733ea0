"""Schema: infer from the train statistics (``tfdv.infer_schema``) or import a curated ``.pbtxt``.

Writes ``<output_dir>/schema.pbtxt`` and, optionally, a Markdown view (feature, type, presence, valency,
domain) that the KFP UI renders.
"""

from __future__ import annotations

import os

import tensorflow as tf
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components._shared import artifacts
from components._shared.log import get_logger, timed

log = get_logger("schema")

_TYPES = {schema_pb2.INT: "INT", schema_pb2.FLOAT: "FLOAT", schema_pb2.BYTES: "BYTES", schema_pb2.STRUCT: "STRUCT"}
_MAX_VALUES_SHOWN = 12


class SchemaError(ValueError):
    """The schema can't be produced: missing statistics, or a curated schema file that doesn't parse."""


def load_schema(schema_uri: str) -> schema_pb2.Schema:
    """Parse a text-format schema (local path or ``tf.io.gfile`` URI); SchemaError naming the file if not."""
    if not tf.io.gfile.exists(schema_uri):
        raise SchemaError(f"schema file {schema_uri} does not exist")
    with tf.io.gfile.GFile(schema_uri, "r") as f:
        text = f.read()
    schema = schema_pb2.Schema()
    try:
        text_format.Parse(text, schema)
    except text_format.ParseError as e:
        raise SchemaError(f"schema file {schema_uri} is not a valid text-format Schema: {e}") from e
    if not schema.feature:
        raise SchemaError(f"schema file {schema_uri} declares no features")
    return schema


def _load_train_statistics(statistics_dir: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    from components.statistics.logic import load_statistics

    split = "train"
    path = os.path.join(statistics_dir, split, artifacts.STATS_FILE)
    if not tf.io.gfile.exists(path):
        raise SchemaError(f"no train statistics at {path}; the schema is inferred from the train split")
    return load_statistics(statistics_dir, split)


def _domain_text(schema: schema_pb2.Schema, feature: schema_pb2.Feature) -> str:
    kind = feature.WhichOneof("domain_info")
    if kind is None:
        return ""
    if kind in ("domain", "string_domain"):
        if kind == "domain":
            domains = {d.name: d for d in schema.string_domain}
            dom = domains.get(feature.domain)
            if dom is None:
                return f"string domain `{feature.domain}` (not declared)"
        else:
            dom = feature.string_domain
        values = list(dom.value)
        shown = ", ".join(f"`{v}`" for v in values[:_MAX_VALUES_SHOWN])
        more = f", … ({len(values)} values)" if len(values) > _MAX_VALUES_SHOWN else ""
        return f"one of {shown}{more}"
    if kind == "int_domain":
        d = feature.int_domain
        lo = str(d.min) if d.HasField("min") else "-∞"
        hi = str(d.max) if d.HasField("max") else "∞"
        return f"int in [{lo}, {hi}]" + (" (categorical)" if d.is_categorical else "")
    if kind == "float_domain":
        d = feature.float_domain
        lo = f"{d.min:g}" if d.HasField("min") else "-∞"
        hi = f"{d.max:g}" if d.HasField("max") else "∞"
        return f"float in [{lo}, {hi}]"
    if kind == "bool_domain":
        return "bool (0/1)"
    return kind.replace("_", " ")


def _presence_text(feature: schema_pb2.Feature) -> str:
    p = feature.presence
    if p.HasField("min_fraction") and p.min_fraction >= 1.0:
        return "required"
    if p.HasField("min_fraction") and p.min_fraction > 0:
        return f"optional (≥ {p.min_fraction:.0%})"
    return "optional"


def _valency_text(feature: schema_pb2.Feature) -> str:
    if feature.HasField("shape"):
        return "[" + ", ".join(str(d.size) for d in feature.shape.dim) + "]"
    if feature.HasField("value_count"):
        vc = feature.value_count
        return str(vc.min) if vc.min == vc.max else f"{vc.min}..{vc.max or '∞'}"
    return "any"


def schema_markdown(schema: schema_pb2.Schema, source: str = "") -> str:
    """A Markdown table of the schema: feature, type, presence, values per example, domain."""
    lines = [
        "# Schema",
        "",
        f"{len(schema.feature)} features" + (f", {source}" if source else "") + ".",
        "",
        "| feature | type | presence | values | domain |",
        "|---|---|---|---|---|",
    ]
    for feature in sorted(schema.feature, key=lambda f: f.name):
        lines.append(
            f"| `{feature.name}` | {_TYPES.get(feature.type, 'UNKNOWN')} | {_presence_text(feature)} | "
            f"{_valency_text(feature)} | {_domain_text(schema, feature)} |"
        )
    envs = sorted({e for f in schema.feature for e in f.in_environment} | set(schema.default_environment))
    if envs:
        lines += ["", "Environments: " + ", ".join(f"`{e}`" for e in envs)]
    return "\n".join(lines) + "\n"


def make_schema(
    statistics_dir: str,
    output_dir: str,
    view_path: str | None = None,
    schema_uri: str | None = None,
) -> schema_pb2.Schema:
    """Infer the schema from ``<statistics_dir>/train`` or import ``schema_uri``; write ``<output_dir>/schema.pbtxt``.

    ``view_path``: where to write the Markdown view. With ``schema_uri``, the train statistics (if present)
    are only used to log features the data has but the schema doesn't declare (and vice versa).
    """
    if schema_uri:
        with timed(log, f"importing curated schema {schema_uri}"):
            schema = load_schema(schema_uri)
        source = f"imported from `{schema_uri}`"
        stats_path = os.path.join(statistics_dir, "train", artifacts.STATS_FILE) if statistics_dir else ""
        if stats_path and tf.io.gfile.exists(stats_path):
            stats = _load_train_statistics(statistics_dir)
            in_data = {f.path.step[0] if f.path.step else f.name for f in stats.datasets[0].features}
            declared = {f.name for f in schema.feature}
            if in_data - declared:
                log.warning("features in the data but not in %s: %s", schema_uri, sorted(in_data - declared))
            if declared - in_data:
                log.warning("features in %s but not in the data: %s", schema_uri, sorted(declared - in_data))
    else:
        stats = _load_train_statistics(statistics_dir)
        with timed(log, f"inferring schema from {statistics_dir}/train") as t:
            schema = tfdv.infer_schema(stats)
            t["rows"] = int(stats.datasets[0].num_examples)
        source = "inferred from the train statistics"

    path = os.path.join(output_dir, artifacts.SCHEMA_FILE)
    tf.io.gfile.makedirs(output_dir)
    tfdv.write_schema_text(schema, path)
    log.info("schema with %d features (%s) -> %s", len(schema.feature), source, path)
    if view_path:
        tf.io.gfile.makedirs(os.path.dirname(view_path) or ".")
        with tf.io.gfile.GFile(view_path, "w") as f:
            f.write(schema_markdown(schema, source))
    return schema


def read_schema(schema_dir: str) -> schema_pb2.Schema:
    """The schema of a schema artifact (``<schema_dir>/schema.pbtxt``)."""
    return load_schema(os.path.join(schema_dir, artifacts.SCHEMA_FILE))
