"""Transform: run the user's TF Transform ``preprocessing_fn`` over the examples.

Analysis (vocabularies, means, quantiles, ...) always runs on Beam over the train split, so
the same step scales out on Dataflow / Flink / Spark through ``beam_pipeline_args``. The
transform graph is written as a ``TFTransformOutput`` directory *with the raw schema next to
it* (``metadata/``), which ``raw_feature_spec()`` and the trainer's serving signatures need.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from components._shared import artifacts
from components._shared import lineage as lineage_lib
from components._shared._compat.beam import (
    local_fn_api_runner,
    memoize_dofn_method_specs,
    memoize_option_views,
    pickle_by_value,
)
from components._shared._compat.tensorflow_transform import flat_transform_calls
from components._shared.artifacts import examples as examples_layout
from components._shared.artifacts import examples_writers
from components._shared.artifacts import transform_graph as tg_layout
from components._shared.artifacts.schema import read_schema
from components._shared.log import get_logger, timed
from components._shared.modules import load_module
from components._shared.runner import is_distributed, is_local, runner_of
from components.schema.presence import optional_in_data, relax_presence, requires_presence
from components.transform import source

log = get_logger("transform")

#: Rows per batch the transform graph is applied to, on Beam and in process alike: TF's vectorized
#: float kernels (cos, exp, ...) round the last bit differently for the SIMD body and the tail of a
#: batch, so identical batching is what makes the two paths give bit-identical outputs.
BATCH_SIZE = 1024


@dataclass
class TransformResult:
    """What the transform step did: rows per split in == rows per split out."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    transformed_features: dict[str, str] = field(default_factory=dict)


def _dtype_name(spec) -> str:
    import tensorflow as tf

    return {tf.int64: "int", tf.float32: "float", tf.string: "string"}.get(spec.dtype, spec.dtype.name)


def run_transform(
    examples_dir: str,
    schema_dir: str,
    module_file: str,
    transform_graph_dir: str,
    transformed_examples_dir: str,
    beam_pipeline_args: Sequence[str] = (),
    in_process_apply: bool | None = None,
    *,
    statistics_dir: str | None = None,
    raw_label_key: str = "",
    input_uris: dict[str, str] | None = None,
) -> TransformResult:
    """Analyze the train split with ``preprocessing_fn``, write the transform graph, transform both splits.

    Args:
      examples_dir: examples artifact (``<dir>/{train,eval}/part-*.tfrecord``).
      schema_dir: schema artifact (``<dir>/schema.pbtxt``); describes the raw features.
      module_file: Python file (local path or gfile URI) defining ``preprocessing_fn(inputs) -> dict``.
      transform_graph_dir: output; a ``tft.TFTransformOutput`` directory (transform_fn/,
        transformed_metadata/, metadata/ = raw schema).
      transformed_examples_dir: output; transformed tf.Examples in the examples layout.
      beam_pipeline_args: passed straight to Beam (``--runner=DataflowRunner ...``).
      in_process_apply: apply the analyzed transform to the examples in this process
        (tf.data + the saved transform graph) instead of a second Beam pass. ``None`` (default):
        only when no distributed runner is named. The output is identical either way.
      statistics_dir: the statistics artifact of the same examples (optional). Columns that its statistics show
        can be missing are parsed as optional even when the schema requires them (a curated schema; validate
        reports those rows as an anomaly), so a run with ``fail_on_anomalies=False`` completes instead of
        crashing in TensorFlow's parser.
      raw_label_key: the raw label column (the pipeline's ``raw_label_key``); recorded in the transform graph
        (``transform.json``) so train keeps it out of the serving signatures. Must be a column of the schema.
      input_uris: the URIs of the input artifacts as KFP names them (``examples_uri``, ``schema_uri``,
        ``statistics_uri``; the wrapper passes ``.uri``, which on a cluster differs from the mounted ``.path``).
        Recorded with the data's lineage (``examples.json``'s source, hash and rows) in ``transform.json``; the
        paths themselves when not given.
    """
    start = time.perf_counter()
    # Everything that can be wrong with the inputs is checked before anything is written.
    module = load_module(module_file, required=("preprocessing_fn",))
    pickle_by_value(module)
    schema = read_schema(schema_dir)
    _check_raw_label(schema, raw_label_key, schema_dir)
    optional = _optional_columns(schema, statistics_dir)
    files = {split: examples_layout.split_files(examples_dir, split) for split in artifacts.SPLITS}
    args = list(beam_pipeline_args)
    if in_process_apply is None:
        in_process_apply = not is_distributed(args)

    import tensorflow_transform as tft
    from tensorflow_transform.tf_metadata import dataset_metadata

    raw_metadata = dataset_metadata.DatasetMetadata(schema)
    _empty_outputs(transform_graph_dir, transformed_examples_dir)

    log.info(
        "preprocessing_fn from %s; raw features: %s; beam args: %s; apply: %s",
        module_file,
        ", ".join(f.name for f in schema.feature),
        args or "(none: DirectRunner)",
        "in process" if in_process_apply else "Beam",
    )
    rows = _run_beam(
        module.preprocessing_fn,
        examples_dir,
        schema,
        raw_metadata,
        files,
        transform_graph_dir,
        transformed_examples_dir,
        args,
        analyze_only=in_process_apply,
    )
    # The raw schema next to the transform graph: TFTransformOutput.raw_feature_spec() reads it.
    tg_layout.write_raw_schema(transform_graph_dir, schema)
    tg_layout.write_transform_meta(
        transform_graph_dir,
        {
            "raw_label_keys": [raw_label_key] if raw_label_key else [],
            "optional_features": optional,
            "lineage": _input_lineage(examples_dir, schema_dir, statistics_dir, input_uris or {}),
        },
    )
    if in_process_apply:
        rows = apply_in_process(transform_graph_dir, files, transformed_examples_dir)

    tft_output = tft.TFTransformOutput(transform_graph_dir)
    transformed = {k: _dtype_name(v) for k, v in sorted(tft_output.transformed_feature_spec().items())}
    examples_layout.write_meta(
        transformed_examples_dir, {"columns": transformed, "splits": rows, "source": examples_dir}
    )
    seconds = time.perf_counter() - start
    log.info("transform done: %s rows in %.1fs -> %s, %s", rows, seconds, transform_graph_dir, transformed_examples_dir)
    return TransformResult(rows=rows, seconds=seconds, transformed_features=transformed)


def _input_lineage(examples_dir: str, schema_dir: str, statistics_dir: str | None, uris: dict[str, str]) -> dict:
    """What the transform graph was made from: the data (ingest's record) and the input artifacts' URIs."""
    data = lineage_lib.data_lineage(examples_layout.read_meta(examples_dir, required=False),
                                    uris.get("examples_uri") or examples_dir)  # fmt: skip
    return {
        **data,
        "schema_uri": uris.get("schema_uri") or schema_dir,
        "statistics_uri": uris.get("statistics_uri") or statistics_dir or "",
    }


def _check_raw_label(schema, raw_label_key: str, schema_dir: str) -> None:
    if raw_label_key and raw_label_key not in {f.name for f in schema.feature}:
        raise ValueError(
            f"raw_label_key '{raw_label_key}' is not a column of the schema {schema_dir} "
            f"(columns: {', '.join(f.name for f in schema.feature)}); pass the label's CSV column, or '' if the "
            "label is computed from several columns (then list them in the module's RAW_LABEL_KEYS)"
        )


def _empty_outputs(*dirs: str) -> None:
    import tensorflow as tf

    for d in dirs:
        if tf.io.gfile.exists(d) and tf.io.gfile.listdir(d):
            log.info("output %s is not empty: replacing its content", d)
            tf.io.gfile.rmtree(d)
        tf.io.gfile.makedirs(d)


def _optional_columns(schema, statistics_dir: str | None) -> list[str]:
    """Relax (in place) the columns the schema requires but the statistics show missing in some rows; returns the
    columns parsed as optional (relaxed ones included)."""
    if statistics_dir:
        from components._shared.artifacts.statistics import has_statistics, read_statistics

        stats = [read_statistics(statistics_dir, s) for s in artifacts.SPLITS if has_statistics(statistics_dir, s)]
        relaxed = relax_presence(schema, optional_in_data(stats))
        if relaxed:
            log.warning(
                "the schema requires %s but some rows lack them (validate reports this as an anomaly): parsed as "
                "optional, so preprocessing_fn gets them as SparseTensors",
                ", ".join(relaxed),
            )
    return sorted(f.name for f in schema.feature if not requires_presence(f))


def _run_beam(
    preprocessing_fn,
    examples_dir,
    schema,
    raw_metadata,
    files,
    transform_graph_dir,
    transformed_examples_dir,
    beam_pipeline_args,
    analyze_only: bool,
) -> dict[str, int]:
    import apache_beam as beam
    import tensorflow as tf
    import tensorflow_transform.beam as tft_beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from tfx_bsl.tfxio import tf_example_record

    # TFT's analysis of the taxi table builds ~1,060 transforms and ~900 DoFns run in ~140 stages: Beam would parse
    # its options ~2,300 times and inspect each DoFn's methods ~7 times (components/_shared/_compat/beam.py)
    memoize_dofn_method_specs()
    memoize_option_views()

    class _Count(beam.DoFn):
        def __init__(self, split: str):
            self._split = split
            self._counter = None

        def setup(self):
            self._counter = beam.metrics.Metrics.counter("kfx.transform", f"rows_{self._split}")

        def process(self, element):
            self._counter.inc()
            yield element

    # Beam/TFT scratch space: on the output filesystem (a distributed runner can't see local /tmp).
    temp_dir = tg_layout.temp_dir(transform_graph_dir)
    if "://" not in transform_graph_dir:
        temp_dir = tempfile.mkdtemp(prefix="kfx_tft_")
    local = is_local(beam_pipeline_args)
    what = "analyzing train split" + ("" if analyze_only else " and transforming both splits") + " on Beam"
    with timed(log, what) as t:
        options = PipelineOptions(list(beam_pipeline_args))
        # No runner named: DirectRunner's own batch runner (FnApiRunner), without its PrismRunner attempt first
        runner = local_fn_api_runner() if not runner_of(beam_pipeline_args) else None
        with beam.Pipeline(runner=runner, options=options) as p:
            with tft_beam.Context(temp_dir=temp_dir):
                raw = {}
                for split in ("train",) if analyze_only else artifacts.SPLITS:
                    if local:  # bounded: one batch at a time, fused with the analysis (components/transform/source.py)
                        raw[split] = source.read_split(p, examples_dir, split, schema, BATCH_SIZE)
                        continue
                    tfxio = tf_example_record.TFExampleRecord(
                        file_pattern=files[split], schema=schema, telemetry_descriptors=["kfx", "transform"]
                    )
                    raw[split] = (
                        p | f"Read{split}" >> tfxio.BeamSource(batch_size=BATCH_SIZE),
                        tfxio.TensorAdapterConfig(),
                    )
                transform_fn = raw["train"] | "Analyze" >> tft_beam.AnalyzeDataset(preprocessing_fn)
                if not analyze_only:
                    for split in artifacts.SPLITS:
                        transformed = (raw[split], transform_fn) | f"Transform{split}" >> tft_beam.TransformDataset(
                            output_record_batches=True
                        )
                        prefix, suffix = examples_layout.beam_shard_prefix(transformed_examples_dir, split)
                        _ = (
                            transformed
                            | f"Encode{split}" >> tft_beam.EncodeTransformedDataset()
                            | f"Count{split}" >> beam.ParDo(_Count(split))
                            | f"Write{split}" >> beam.io.WriteToTFRecord(prefix, file_name_suffix=suffix)
                        )
                _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(transform_graph_dir)
        result = p.result
        rows: dict[str, int] = {}
        if not analyze_only:
            for split in artifacts.SPLITS:
                rows[split] = _counter(result, f"rows_{split}")
                if rows[split] is None:  # runner without metrics: count what was written
                    rows[split] = count_records(examples_layout.split_files(transformed_examples_dir, split))
            t["rows"] = sum(rows.values())
    if "://" not in transform_graph_dir:
        shutil.rmtree(temp_dir, ignore_errors=True)
    elif tf.io.gfile.exists(temp_dir):
        tf.io.gfile.rmtree(temp_dir)
    return rows


def _counter(result, name: str) -> int | None:
    from apache_beam.metrics.metric import MetricsFilter

    try:
        found = result.metrics().query(MetricsFilter().with_name(name))["counters"]
    except Exception:  # noqa: BLE001 - some runners don't report metrics
        return None
    if not found:
        return None
    return int(sum(c.committed if c.committed is not None else c.attempted for c in found))


def count_records(files: Sequence[str]) -> int:
    import tensorflow as tf

    return int(sum(1 for _ in tf.data.TFRecordDataset(list(files))))


def apply_in_process(
    transform_graph_dir: str,
    files: dict[str, list[str]],
    transformed_examples_dir: str,
    batch_size: int = BATCH_SIZE,
    shard_bytes: int = examples_layout.SHARD_BYTES,
) -> dict[str, int]:
    """Apply a written transform graph to the examples with tf.data in this process (no Beam).

    Same graph, same encoder (tfx_bsl's RecordBatch -> tf.Example) as the Beam path. Each split's records go to
    shards of ``shard_bytes`` (a new one starts past it; record order kept across shards).
    """
    import pyarrow as pa
    import tensorflow as tf
    import tensorflow_transform as tft
    from tfx_bsl.coders import example_coder

    flat_transform_calls()  # the loaded graph without a failed (and costly) structured binding at every call
    tft_output = tft.TFTransformOutput(transform_graph_dir)
    raw_spec = tft_output.raw_feature_spec()
    encoder = example_coder.RecordBatchToExamplesEncoder(tft_output.transformed_metadata.schema)
    layer = tft_output.transform_features_layer()
    # Eager calls of the loaded graph: ~0.02 s per 1,024 taxi rows. (Wrapping this in a tf.function
    # re-traces the whole transform graph: ~10 s once per process, more than the work itself.)

    def transform(serialized):
        return layer(tf.io.parse_example(serialized, raw_spec))

    rows: dict[str, int] = {}
    for split, split_files in files.items():
        with timed(log, f"transforming {split} split in process") as t:
            ds = tf.data.TFRecordDataset(split_files).batch(batch_size)
            # several shards for a large split (examples layout's SHARD_BYTES), so a distributed trainer can spread them
            with examples_writers.RecordShardWriter(transformed_examples_dir, split, shard_bytes) as writer:
                for serialized in ds:
                    writer.write(encoder.encode(_to_record_batch(transform(serialized), pa)))
            rows[split] = t["rows"] = writer.rows
        log.info("split %s: %s shard(s) under %s", split, len(writer.files), writer.files[0].rsplit("/", 1)[0])
    return rows


def _to_record_batch(features: dict, pa):
    """Transformed tensors -> an Arrow RecordBatch of list columns (what TFT's Beam path encodes)."""
    import numpy as np
    import tensorflow as tf

    arrays, names = [], []
    for name in sorted(features):
        t = features[name]
        if isinstance(t, tf.SparseTensor):
            t = tf.RaggedTensor.from_sparse(t)
        if isinstance(t, tf.RaggedTensor):
            values = t.flat_values.numpy()
            offsets = t.row_splits.numpy().astype(np.int64)
        else:
            v = t.numpy()
            n = v.shape[0]
            width = int(np.prod(v.shape[1:])) if v.ndim > 1 else 1
            values = v.reshape(-1)
            offsets = np.arange(0, n * width + 1, width, dtype=np.int64)
        if values.dtype == object:
            values_arr = pa.array(values.tolist(), type=pa.large_binary())
        else:
            values_arr = pa.array(values)
        arrays.append(pa.LargeListArray.from_arrays(pa.array(offsets), values_arr))
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names)
