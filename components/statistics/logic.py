"""Statistics (TFDV) per split of an examples artifact, plus TFDV's facets HTML comparing the splits.

Two paths, one result:

* **in_memory** (default whenever no distributed runner is named, whatever the size: it streams, one chunk in
  memory at a time, where Beam's local DirectRunner would hold the whole split and was killed for memory at 15M
  taxi rows, 7.8 GB of TFRecords): the split's rows, as Arrow RecordBatches of ``CHUNK_ROWS``, are fed straight
  into TFDV's combiner statistics generators (the core of
  ``tfdv.generate_statistics_from_dataframe``; the one use of TFDV internals is fenced in
  ``components/_shared/_compat/tfdv.py``), without Beam's per-bundle overhead. With more than one CPU
  (``components/_shared/cpus.py``) forked processes share the work: each a group of the features over every split
  (from columnar copies), else each a split (decoding TFRecords); the same bytes as one process.
* **beam**: ``tfdv.GenerateStatistics`` in a Beam pipeline built from ``beam_pipeline_args`` (DirectRunner in
  any running mode, Dataflow, Flink, Spark ...).

Both paths run the *same* TFDV generators with the same options (``use_sketch_based_topk_uniques=True``, so
Beam doesn't swap in its exact-but-shuffle-heavy top-k generator), so the statistics are the same in
content. ``num_examples`` is checked against the number of records actually read (and against the row
counts ingest recorded in ``examples.json``): a mismatch is an error, never a silent undercount.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence

import pyarrow as pa
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2
from tfx_bsl.public.tfxio import TFExampleRecord

from components._shared._compat.tfdv import streaming_statistics
from components._shared.artifacts import examples as examples_layout
from components._shared.artifacts.statistics import read_statistics, staging_dir, write_statistics
from components._shared.cpus import available_cpus
from components._shared.log import get_logger, timed
from components._shared.runner import is_distributed, is_local, runner_of
from components._shared.stats_view import num_examples
from components.statistics import parallel
from components.statistics.parallel import feature_groups

log = get_logger("statistics")

#: Records decoded and fed to the generators at a time on the in-memory path.
CHUNK_ROWS = 100_000
#: Runners that execute on this machine (the in-memory path is preferred for them).
MODES = ("auto", "in_memory", "beam")

HTML_FILE_NAME = "statistics.html"


class StatisticsError(RuntimeError):
    """Statistics could not be computed faithfully (missing input, or rows lost on the way)."""


class SplitCounts(dict):
    """``{split: num_examples}``; ``.mode`` says which path computed them (``in_memory`` or ``beam``)."""

    mode: str = ""
    #: What the rows were read from: ``columnar`` (the shards' Arrow copies) or ``tfrecord`` (decoded).
    reader: str = ""

    @property
    def num_examples(self) -> int:
        """Examples over all splits."""
        return sum(self.values())


def stats_options(schema: schema_pb2.Schema | None = None, **overrides) -> tfdv.StatsOptions:
    """The one set of TFDV options both paths use."""
    kwargs = {"use_sketch_based_topk_uniques": True}
    kwargs.update(overrides)
    if schema is not None:
        kwargs["schema"] = schema
    return tfdv.StatsOptions(**kwargs)


# ------------------------------------------------------------------------------------------ inputs


def _splits(examples_dir: str, meta: dict) -> list[str]:
    found = examples_layout.splits_present(examples_dir, meta)
    if not found:
        raise StatisticsError(
            f"no examples under {examples_dir}: expected TFRecords at "
            f"{examples_layout.split_pattern(examples_dir, '<split>')}"
        )
    return found


def _input_bytes(files: Iterable[str]) -> int:
    return sum(tf.io.gfile.stat(f).length for f in files)


def choose_mode(beam_pipeline_args: Sequence[str]) -> str:
    """``beam`` when a distributed runner is named, else ``in_memory`` (streaming; bounded memory at any size)."""
    return "in_memory" if is_local(beam_pipeline_args) else "beam"


# --------------------------------------------------------------------------------- in-memory core


def statistics_from_batches(
    batches: Iterable[pa.RecordBatch], options: tfdv.StatsOptions | None = None
) -> tuple[statistics_pb2.DatasetFeatureStatisticsList, int]:
    """TFDV statistics over a stream of RecordBatches (list-typed columns), one chunk in memory at a time.

    Returns the statistics and the number of rows fed.
    """
    return streaming_statistics(batches, options or stats_options())


def _split_batches(
    examples_dir: str, split: str, files: list[str], schema: schema_pb2.Schema | None, columnar: bool
) -> tuple[Iterator[pa.RecordBatch], str]:
    """A split's rows as the RecordBatches the generators take, and what they are read from."""
    copies = examples_layout.columnar_files(examples_dir, split) if columnar else None
    if copies:
        names = [f.name for f in schema.feature] if schema is not None else None
        return examples_layout.read_columnar(copies, CHUNK_ROWS, names), "columnar"
    return examples_layout.decode_batches(files, schema, CHUNK_ROWS), "tfrecord"


def _one_split(
    examples_dir: str, split: str, files: list[str], schema: schema_pb2.Schema | None, options, columnar: bool
) -> tuple[statistics_pb2.DatasetFeatureStatisticsList, int, str]:
    """One split's statistics in this process: (statistics, rows fed, what they were read from)."""
    batches, reader = _split_batches(examples_dir, split, files, schema, columnar)
    with timed(log, f"computing {split} statistics in memory from {reader}") as t:
        stats, rows = statistics_from_batches(batches, options)
        t["rows"] = rows
    return stats, rows, reader


def _in_memory_statistics(
    examples_dir: str,
    inputs: dict[str, list[str]],
    schema: schema_pb2.Schema | None,
    options: tfdv.StatsOptions,
    columnar: bool,
) -> tuple[dict[str, statistics_pb2.DatasetFeatureStatisticsList], dict[str, int], dict[str, str]]:
    """Every split through TFDV's generators, using every CPU (``components/_shared/cpus.py``).

    Read from columnar copies (every split has them, the schema is known): the features are dealt into one group
    per CPU (:func:`feature_groups`) and each process (this one and forked ones) computes its group over every split
    (:func:`_group_statistics`); each feature's statistics depend only on its own column, so the groups' features,
    put back in the columns' order (:func:`_assemble`), are the bytes one process computes (tested). Otherwise
    (decoding TFRecords, which reads every column anyway) the splits after the first run in forked processes."""
    splits, cpus = list(inputs), available_cpus()
    names = [f.name for f in schema.feature] if schema is not None else []
    if (
        cpus > 1
        and len(names) > 1
        and columnar
        and all(examples_layout.columnar_files(examples_dir, s) for s in splits)
    ):
        groups = feature_groups(schema, cpus)
        jobs = [(_group_statistics, (examples_dir, splits, schema, group)) for group in groups]
        parts = _run_parallel(jobs, [f"features {', '.join(g)}" for g in groups])
        stats = {s: _assemble(s, [p[s] for p in parts], names) for s in splits}
        return stats, {s: num_examples(stats[s]) for s in splits}, dict.fromkeys(splits, "columnar")
    jobs = [(_one_split, (examples_dir, s, inputs[s], schema, options, columnar)) for s in splits[:cpus]]
    done = dict(zip(splits[:cpus], _run_parallel(jobs, [f"split {s!r}" for s in splits[:cpus]]), strict=True))
    for split in splits[cpus:]:
        done[split] = _one_split(examples_dir, split, inputs[split], schema, options, columnar)
    return (
        {s: done[s][0] for s in splits},
        {s: done[s][1] for s in splits},
        {s: done[s][2] for s in splits},
    )


def _group_statistics(
    examples_dir: str, splits: list[str], schema: schema_pb2.Schema, group: list[str]
) -> dict[str, statistics_pb2.DatasetFeatureStatisticsList]:
    """Every split's statistics of the features in ``group`` only, read from the columnar copies (its columns
    alone), with the schema of those features: for each of them, what the generators give over all columns."""
    sub = schema_pb2.Schema()
    sub.feature.extend(f for f in schema.feature if f.name in set(group))
    out = {}
    for split in splits:
        batches = examples_layout.read_columnar(examples_layout.columnar_files(examples_dir, split), CHUNK_ROWS, group)
        with timed(log, f"computing {split} statistics of {len(group)} feature(s) in memory from columnar") as t:
            try:
                out[split], t["rows"] = statistics_from_batches(batches, stats_options(sub))
            except Exception as e:
                raise StatisticsError(f"split {split!r}: {type(e).__name__}: {e}") from e
    return out


def _assemble(
    split: str, parts: list[statistics_pb2.DatasetFeatureStatisticsList], names: list[str]
) -> statistics_pb2.DatasetFeatureStatisticsList:
    """One split's statistics from its feature groups' (:func:`parallel.assemble`), their row counts checked."""
    counts = {num_examples(p) for p in parts}
    if len(counts) != 1:
        raise StatisticsError(f"statistics of split {split!r}: the feature groups read {sorted(counts)} rows")
    return parallel.assemble(parts, names)


def _run_parallel(jobs: list[tuple], labels: list[str]) -> list:
    """:func:`parallel.run_parallel`; a failure is a StatisticsError naming its job."""
    try:
        return parallel.run_parallel(jobs, labels)
    except parallel.ParallelError as e:
        raise StatisticsError(str(e)) from e


# ------------------------------------------------------------------------------------------- beam


def _beam_statistics(
    inputs: dict[str, list[str]],
    schema: schema_pb2.Schema | None,
    options: tfdv.StatsOptions,
    beam_pipeline_args: Sequence[str],
    output_dir: str,
) -> tuple[dict[str, statistics_pb2.DatasetFeatureStatisticsList], dict[str, int]]:
    """One Beam pipeline computing every split's statistics; also counts the rows Beam read per split.

    Beam writes into a staging folder: a local temp dir for local runners, else ``<output_dir>/_staging``
    (remote workers can't see this machine's disk). It is removed afterwards.
    """
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    def count(batch: pa.RecordBatch, split: str) -> pa.RecordBatch:
        beam.metrics.Metrics.counter("kfx", f"rows_{split}").inc(batch.num_rows)
        return batch

    remote = is_distributed(beam_pipeline_args)
    created = remote and not tf.io.gfile.exists(output_dir)
    tmp = staging_dir(output_dir) if remote else tempfile.mkdtemp(prefix="kfx_stats_")
    tf.io.gfile.makedirs(tmp)
    try:
        out_paths = {split: os.path.join(tmp, f"{split}.pb") for split in inputs}
        pipeline = beam.Pipeline(options=PipelineOptions(list(beam_pipeline_args)))
        for split, files in inputs.items():
            tfxio = TFExampleRecord(file_pattern=files, schema=schema, telemetry_descriptors=["kfx", "statistics"])
            _ = (
                pipeline
                | f"Read[{split}]" >> tfxio.BeamSource()
                | f"Count[{split}]" >> beam.Map(count, split=split)
                | f"Stats[{split}]" >> tfdv.GenerateStatistics(options)
                | f"Write[{split}]" >> tfdv.WriteStatisticsToBinaryFile(out_paths[split])
            )
        result = pipeline.run()
        result.wait_until_finish()
        read: dict[str, int] = {}
        for split in inputs:
            query = beam.metrics.MetricsFilter().with_namespace("kfx").with_name(f"rows_{split}")
            committed = [c.committed for c in result.metrics().query(query)["counters"] if c.committed is not None]
            read[split] = int(sum(committed)) if committed else -1  # -1: the runner reports no metrics
        stats = {split: tfdv.load_stats_binary(path) for split, path in out_paths.items()}
    finally:
        tf.io.gfile.rmtree(tmp)
        if created and not tf.io.gfile.listdir(output_dir):
            tf.io.gfile.rmtree(output_dir)
    return stats, read


# ----------------------------------------------------------------------------------------- public


def compute_statistics(
    examples_dir: str,
    output_dir: str,
    html_path: str | None = None,
    beam_pipeline_args: Sequence[str] = (),
    mode: str = "auto",
    columnar: bool = True,
) -> SplitCounts:
    """Statistics of every split of ``examples_dir`` into ``<output_dir>/<split>/FeatureStats.pb``.

    ``html_path``: where to write TFDV's facets HTML (train vs eval). ``mode``: ``auto`` (in-memory, streaming,
    when the runner is local; Beam when a distributed runner is named), ``in_memory`` or ``beam``.
    ``columnar``: let the in-memory path read the shards' columnar copies when every shard has one (False: always
    decode the TFRecords). Returns ``{split: num_examples}`` (a ``SplitCounts`` whose ``.mode`` says which path ran).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    meta = examples_layout.read_meta(examples_dir, required=False)
    splits = _splits(examples_dir, meta)
    inputs = {split: examples_layout.split_files(examples_dir, split) for split in splits}
    schema = examples_layout.columns_schema(meta["columns"]) if meta.get("columns") else None
    options = stats_options(schema)
    total_bytes = _input_bytes(f for files in inputs.values() for f in files)
    chosen = mode if mode != "auto" else choose_mode(beam_pipeline_args)
    runner = runner_of(beam_pipeline_args) or "DirectRunner"
    log.info(
        "statistics of %s (%s, %.1f MB) via the %s path%s",
        examples_dir,
        ", ".join(splits),
        total_bytes / 1e6,
        chosen,
        f" ({runner}, args {list(beam_pipeline_args)})" if chosen == "beam" else "",
    )

    results: dict[str, statistics_pb2.DatasetFeatureStatisticsList] = {}
    read: dict[str, int] = {}
    readers: dict[str, str] = {}
    if chosen == "in_memory":
        results, read, readers = _in_memory_statistics(examples_dir, inputs, schema, options, columnar)
    else:
        with timed(log, f"computing statistics of {len(inputs)} split(s) with Beam ({runner})") as t:
            results, read = _beam_statistics(inputs, schema, options, beam_pipeline_args, output_dir)
            t["rows"] = sum(v for v in read.values() if v >= 0)

    expected = meta.get("splits") or {}
    for split, stats in results.items():
        n = num_examples(stats)
        if read[split] >= 0 and n != read[split]:
            raise StatisticsError(
                f"statistics of split {split!r} count {n:,} examples but {read[split]:,} were read "
                f"({chosen} path, args {list(beam_pipeline_args)}); refusing to write undercounted statistics"
            )
        if split in expected and n != int(expected[split]):
            raise StatisticsError(
                f"statistics of split {split!r} count {n:,} examples but ingest wrote {int(expected[split]):,} "
                f"({chosen} path, args {list(beam_pipeline_args)}); refusing to write undercounted statistics"
            )
        stats.datasets[0].name = split

    for split, stats in results.items():
        path = write_statistics(output_dir, split, stats)
        log.info(
            "split %s: %s examples, %d features -> %s",
            split,
            f"{num_examples(stats):,}",
            len(stats.datasets[0].features),
            path,
        )
    if html_path:
        from components.statistics import report_html  # self-contained report (issue 7)

        report_html.write_html(results, html_path)

    counts = SplitCounts({split: num_examples(stats) for split, stats in results.items()})
    counts.mode = chosen
    counts.reader = ",".join(sorted(set(readers.values()))) or "tfrecord"
    return counts


def load_statistics(statistics_dir: str, split: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    """``split``'s statistics of a statistics artifact (``components/_shared/artifacts/statistics.py``)."""
    return read_statistics(statistics_dir, split)


def statistics_from_csv(
    csv_path: str, options: tfdv.StatsOptions | None = None, chunk_rows: int = CHUNK_ROWS
) -> statistics_pb2.DatasetFeatureStatisticsList:
    """TFDV statistics of a CSV straight from Arrow (no examples artifact), through the same in-memory core.

    Types as ingest infers them; the CSV is streamed twice (types, then values), ``chunk_rows`` rows at a time.
    """
    from components.ingest.logic import scan_csv, typed_batches

    with timed(log, f"scanning {csv_path}") as t:
        opener, scan = scan_csv(csv_path)
        t["rows"] = scan.rows
    schema = examples_layout.columns_schema(scan.columns)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch, _ in typed_batches(opener, scan, csv_path):
            for start in range(0, batch.num_rows, chunk_rows):
                yield examples_layout.to_list_batch(batch.slice(start, chunk_rows))

    with timed(log, "computing statistics in memory") as t:
        stats, rows = statistics_from_batches(batches(), options or stats_options(schema))
        t["rows"] = rows
    if num_examples(stats) != scan.rows:
        raise StatisticsError(f"statistics count {num_examples(stats):,} rows but {csv_path} has {scan.rows:,}")
    return stats
