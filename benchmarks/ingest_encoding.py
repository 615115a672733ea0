"""Ingest's tf.Example encoding: microseconds per row of typed CSV batches, encoded and TFRecord-framed.

    .venv/bin/python benchmarks/ingest_encoding.py [--rows 1000000] [--repeats 3]

Data: the statistics benchmark's ``rows`` x 20 CSV (14 numeric with missing cells, 6 categorical; cached under
``.bench/``), read and typed by ingest's own passes (``scan_csv`` + ``typed_batches``) before timing. Encoders:

* **tfx-bsl** ``RecordBatchToExamplesEncoder`` (C++, one proto per row; the baseline), records only;
* **kfx** ``components/_shared/example_wire_arrow.encode_batch``: records only (an Arrow binary array);
* **kfx shard bytes**: what ingest's ``ShardWriter.write`` does: ``encode_framed`` (records compacted
  straight into TFRecord frames: the file's bytes).

Before timing, kfx's records must equal tfx-bsl's re-serialized deterministically (features in key order), row for
row, on the first batch. Prints median [min-max] of ``--repeats`` (>= 3) process-CPU timings, the ratio to tfx-bsl
measured in the same run, and the peak RSS.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:] = [ROOT] + [p for p in sys.path if os.path.abspath(p or ".") not in (HERE, ROOT)]

import argparse  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import components  # noqa: E402, F401  (TensorFlow's environment before it loads)
from components._shared import example_wire, example_wire_arrow  # noqa: E402
from components._shared.example_wire_arrow import encode_batch  # noqa: E402


def shard_bytes(batch):  # noqa: ANN001, ANN201  (what ShardWriter.write does: records compacted into TFRecord frames)
    return example_wire.encode_framed(example_wire_arrow.columns(batch), batch.num_rows)


def main() -> None:
    import importlib.util

    from tensorflow.core.example.example_pb2 import Example
    from tfx_bsl.coders import example_coder

    from components._shared.artifacts.examples import to_list_batch
    from components.ingest.logic import scan_csv, typed_batches

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    a.repeats = max(a.repeats, 3)
    spec = importlib.util.spec_from_file_location("kfx_statistics_bench", os.path.join(HERE, "statistics.py"))
    stats_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stats_bench)
    csv = stats_bench.make_csv(a.rows)
    opener, scan = scan_csv(csv)
    batches = [b for b, _ in typed_batches(opener, scan, csv)]
    bsl = example_coder.RecordBatchToExamplesEncoder()

    def tfx_bsl(b):  # noqa: ANN001, ANN202
        return bsl.encode(to_list_batch(b))

    first = batches[0]
    expected = [Example.FromString(r).SerializeToString(deterministic=True) for r in tfx_bsl(first)]
    if encode_batch(first).to_pylist() != expected:
        raise SystemExit("kfx's records differ from tfx-bsl's")
    print(f"kfx records == tfx-bsl's (deterministic) on the first batch ({first.num_rows:,} rows)")
    encoders = {
        "tfx-bsl RecordBatchToExamplesEncoder": tfx_bsl,
        "kfx encode_batch": encode_batch,
        "kfx shard bytes (records + TFRecord frames)": shard_bytes,
    }
    print(f"{a.rows:,} rows x 20 columns in {len(batches)} batches, {a.repeats} repetitions, process CPU "
          f"microseconds per row, median [min-max]; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in encoders}
    for _ in range(a.repeats):  # interleaved: every repetition times every encoder
        for name, fn in encoders.items():
            t = time.process_time()
            for b in batches:
                fn(b)
            times[name].append((time.process_time() - t) / a.rows * 1e6)
    base = times["tfx-bsl RecordBatchToExamplesEncoder"]
    for name, ts in times.items():
        ratio = [t / b0 * 100 for t, b0 in zip(ts, base, strict=True)]
        print(f"  {name:<40}{statistics.median(ts):8.2f} [{min(ts):.2f}-{max(ts):.2f}]"
              f"   {statistics.median(ratio):5.1f} % of tfx-bsl")  # fmt: skip
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
