"""Schema: infer from the statistics (types and domains from train, presence from every split) or import a curated ``.pbtxt``.

Writes ``<output_dir>/schema.pbtxt`` and, optionally, a Markdown view (feature, type, presence, valency,
domain) that the KFP UI renders.
"""

from __future__ import annotations

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components._shared import artifacts
from components._shared.artifacts import write_text
from components._shared.artifacts.schema import SchemaError, load_schema, read_schema, write_schema
from components._shared.artifacts.statistics import has_statistics, read_statistics, stats_path
from components._shared.log import get_logger, timed
from components.schema.presence import optional_in_data, relax_presence

__all__ = ["SchemaError", "infer_schema", "load_schema", "make_schema", "read_schema", "schema_markdown"]

log = get_logger("schema")

_TYPES = {schema_pb2.INT: "INT", schema_pb2.FLOAT: "FLOAT", schema_pb2.BYTES: "BYTES", schema_pb2.STRUCT: "STRUCT"}
_MAX_VALUES_SHOWN = 12


def _load_statistics(statistics_dir: str, split: str) -> statistics_pb2.DatasetFeatureStatisticsList | None:
    """One split's statistics, or None when the artifact has none for it."""
    if not has_statistics(statistics_dir, split):
        return None
    return read_statistics(statistics_dir, split)


def _load_train_statistics(statistics_dir: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    stats = _load_statistics(statistics_dir, "train")
    if stats is None:
        path = stats_path(statistics_dir, "train")
        raise SchemaError(f"no train statistics at {path}; the schema is inferred from the train split")
    return stats


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


def _check_curated(schema: schema_pb2.Schema, schema_uri: str, statistics_dir: str) -> None:
    """Log features the data has but the curated schema doesn't declare, and vice versa."""
    stats = _load_statistics(statistics_dir, "train")
    if stats is None:
        return
    in_data = {f.path.step[0] if f.path.step else f.name for f in stats.datasets[0].features}
    declared = {f.name for f in schema.feature}
    if in_data - declared:
        log.warning("features in the data but not in %s: %s", schema_uri, sorted(in_data - declared))
    if declared - in_data:
        log.warning("features in %s but not in the data: %s", schema_uri, sorted(declared - in_data))


def infer_schema(statistics_dir: str) -> schema_pb2.Schema:
    """``tfdv.infer_schema`` of the train statistics, with presence taken from every split.

    A column that some eval row lacks stays optional even when every train row has it (otherwise Transform would
    parse it as a fixed-length feature and crash on that row). Types, domains and ranges come from train only, so
    validate still reports eval values the train data never showed.
    """
    stats = _load_train_statistics(statistics_dir)
    with timed(log, f"inferring schema from {statistics_dir}/train") as t:
        schema = tfdv.infer_schema(stats)
        t["rows"] = int(stats.datasets[0].num_examples)
    splits = [s for s in (_load_statistics(statistics_dir, split) for split in artifacts.SPLITS) if s is not None]
    relaxed = relax_presence(schema, optional_in_data(splits))
    if relaxed:
        log.info("optional (missing in some rows of some split, not in train): %s", ", ".join(relaxed))
    return schema


def make_schema(
    statistics_dir: str,
    output_dir: str,
    view_path: str | None = None,
    schema_uri: str | None = None,
) -> schema_pb2.Schema:
    """Infer the schema from the statistics (:func:`infer_schema`) or import ``schema_uri``; write the artifact.

    Args:
      statistics_dir: statistics artifact (``<dir>/<split>/FeatureStats.pb``).
      output_dir: schema artifact to write (``<dir>/schema.pbtxt``).
      view_path: where to write the Markdown view, if anywhere.
      schema_uri: a curated schema file; the statistics (if present) are then only used to log features the data
        has but the schema doesn't declare (and vice versa). The curated schema is taken as it is: its presence
        requirements are checked by validate, which names the features that break them.
    """
    if schema_uri:
        with timed(log, f"importing curated schema {schema_uri}"):
            schema = load_schema(schema_uri)
        _check_curated(schema, schema_uri, statistics_dir)
        source = f"imported from `{schema_uri}`"
    else:
        schema = infer_schema(statistics_dir)
        source = "inferred from the statistics (presence from every split)"
    path = write_schema(schema, output_dir)
    log.info("schema with %d features (%s) -> %s", len(schema.feature), source, path)
    if view_path:
        write_text(view_path, schema_markdown(schema, source))
    return schema
