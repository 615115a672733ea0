"""Prediction-log encoders side by side: microseconds per logged row, the same records checked first.

Run in either environment (tfx-bsl's encoder only exists in the components env)::

    .venv-serving/bin/python benchmarks/prediction_log_encoding.py [--rows 32000] [--repeats 5]
    .venv/bin/python benchmarks/prediction_log_encoding.py

Rows like the serving benchmark's (the 13 raw features of the fraud test model: 6 int, 3 float, 4 string; plus the
5 kfx meta features), 32 rows per request id. Encoders:

* **per-row protobuf**: one ``tf.train.Example`` built per row (what the log did before; the baseline);
* **bulk numpy** (``components/_shared/example_wire.py`` via ``prediction_log.encode_batch``): what the log does;
* **tfx-bsl** ``RecordBatchToExamplesEncoder`` (C++), components env only, including building the Arrow batch
  from the same numpy columns.

Before timing, every encoder's records must parse to the same Examples as the baseline's. Prints median
[min-max] of ``--repeats`` (>= 3) process-CPU timings, the ratio to the baseline measured in the same run, and the
peak RSS. On a shared machine compare the ratios.
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
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

import components  # noqa: E402, F401  (TensorFlow's environment before it loads)
from components._shared.artifacts import prediction_log as plog  # noqa: E402

INTS = ["account_age_days", "card_present", "customer_age", "day_of_week", "hour", "num_tx_last_24h"]
FLOATS = ["amount", "avg_amount_30d", "distance_from_home_km"]
STRINGS = ["channel", "country", "device_type", "merchant_category"]


def batch(rows: int) -> plog.LogBatch:
    rng = np.random.default_rng(0)
    features: dict = {f: rng.integers(0, 4000, rows) for f in INTS}
    features |= {f: rng.gamma(2, 50, rows).astype(np.float32) for f in FLOATS}
    vocab = ["online", "pos", "atm", "BR", "US", "DE", "mobile", "desktop", "grocery", "travel", "electronics"]
    features |= {f: np.array(rng.choice(vocab, rows), dtype=object) for f in STRINGS}
    kinds = {f: "int" for f in INTS} | {f: "float" for f in FLOATS} | {f: "string" for f in STRINGS}
    ids = [f"{'7f3a' * 4}-{i // 32}" for i in range(rows)]
    return plog.LogBatch(ids, 1_795_000_000_000_000 + np.arange(rows) * 997, features, kinds,
                         rng.random((rows, 1)).astype(np.float32), "fraud", "fraud-predictor-00001")  # fmt: skip


def per_row_protobuf(b: plog.LogBatch) -> list[bytes]:
    import tensorflow as tf

    F = tf.train.Feature  # noqa: N806
    out = []
    names = list(b.features)
    cols = {f: np.asarray(v).tolist() for f, v in b.features.items()}
    ts, preds = b.timestamps_us.tolist(), b.predictions.tolist()
    for i in range(len(b)):
        feats = {}
        for f in names:
            v = cols[f][i]
            kind = b.kinds[f]
            if kind == "int":
                feats[f] = F(int64_list=tf.train.Int64List(value=[v]))
            elif kind == "float":
                feats[f] = F(float_list=tf.train.FloatList(value=[v]))
            else:
                feats[f] = F(bytes_list=tf.train.BytesList(value=[v.encode()]))
        feats[plog.REQUEST_ID] = F(bytes_list=tf.train.BytesList(value=[b.request_ids[i].encode()]))
        feats[plog.TIMESTAMP] = F(int64_list=tf.train.Int64List(value=[ts[i]]))
        feats[plog.MODEL] = F(bytes_list=tf.train.BytesList(value=[b.model.encode()]))
        feats[plog.REVISION] = F(bytes_list=tf.train.BytesList(value=[b.revision.encode()]))
        feats[plog.PREDICTION] = F(float_list=tf.train.FloatList(value=preds[i]))
        out.append(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())
    return out


def tfx_bsl_encoder() -> Callable[[plog.LogBatch], list[bytes]] | None:
    try:
        import pyarrow as pa
        from tfx_bsl.coders import example_coder
    except ImportError:
        return None
    encoder = example_coder.RecordBatchToExamplesEncoder()

    def scalar_lists(values: np.ndarray | list, binary: bool = False) -> pa.Array:
        offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, pa.array(values, type=pa.binary() if binary else None))

    def encode(b: plog.LogBatch) -> list[bytes]:
        n = len(b)
        cols = {f: scalar_lists(list(v), True) if b.kinds[f] == "string" else scalar_lists(np.asarray(v))
                for f, v in b.features.items()}  # fmt: skip
        cols[plog.REQUEST_ID] = scalar_lists(list(b.request_ids), True)
        cols[plog.TIMESTAMP] = scalar_lists(np.asarray(b.timestamps_us))
        cols[plog.MODEL] = scalar_lists([b.model] * n, True)
        cols[plog.REVISION] = scalar_lists([b.revision] * n, True)
        k = b.predictions.shape[1]
        offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
        cols[plog.PREDICTION] = pa.ListArray.from_arrays(offsets, pa.array(b.predictions.ravel()))
        return encoder.encode(pa.RecordBatch.from_arrays(list(cols.values()), list(cols)))

    return encode


def _cpu(fn: Callable[[plog.LogBatch], list[bytes]], b: plog.LogBatch) -> float:
    t = time.process_time()
    fn(b)
    return (time.process_time() - t) / len(b) * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=32_000, help="rows per timing (one writer flush)")
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    a.repeats = max(a.repeats, 3)
    b = batch(a.rows)
    encoders = {"per-row protobuf (before)": per_row_protobuf, "bulk numpy (now)": plog.encode_batch}
    if (bsl := tfx_bsl_encoder()) is not None:
        encoders["tfx-bsl RecordBatchToExamplesEncoder"] = bsl
    import tensorflow as tf

    check = batch(500)
    expected = [tf.train.Example.FromString(r) for r in per_row_protobuf(check)]
    for name, fn in encoders.items():
        if [tf.train.Example.FromString(r) for r in fn(check)] != expected:
            raise SystemExit(f"{name} gives different records")
    print(f"{len(encoders)} encoders give the same records (500 rows, parsed and compared)")
    print(f"{a.rows} rows x {a.repeats} repetitions, process CPU microseconds per row, median [min-max]; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in encoders}
    for _ in range(a.repeats):  # interleaved: every repetition times every encoder
        for name, fn in encoders.items():
            times[name].append(_cpu(fn, b))
    base = times["per-row protobuf (before)"]
    for name, ts in times.items():
        ratio = [t / b0 * 100 for t, b0 in zip(ts, base, strict=True)]
        print(f"  {name:<40}{statistics.median(ts):8.2f} [{min(ts):.2f}-{max(ts):.2f}]"
              f"   {statistics.median(ratio):5.1f} % of per-row protobuf")  # fmt: skip
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
