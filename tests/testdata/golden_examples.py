"""A small CSV whose column types show only in late chunks, and digests of what kfx wrote for it before ingest
streamed the CSV (whole-file read, one shard per split): the streaming ingest must reproduce them exactly.

The digests were taken with the pre-streaming ingest (commit 693ce08) and TFDV 1.16.1. Records are compared in
deterministic serialization (tfx-bsl's encoder writes a tf.Example's feature map in no fixed order).
"""

from __future__ import annotations

import hashlib

COLUMNS = {
    "id": "int",
    "late_float": "float",
    "late_str": "string",
    "pad": "int",
    "amount": "float",
    "cat": "string",
    "empty_col": "int",
}
SPLITS = {"train": 2414, "eval": 586}
RECORDS_SHA256 = {
    "train": "c6ca3a2c2ba3f39272ceb0ec5cac9c6a37c55c86d25e3033a9ea4b6a75441f25",
    "eval": "b2a5ca0ad851de207180b5d1bed82d8b1684d2a848f9974c518d4811284aff59",
}
STATS_SHA256 = {
    "train": "0e20a5c5e9f935baecb292380a15d506c451967282ceb09390f9fc32d0d101cf",
    "eval": "f3757ff2c71d8ec8b5bd85df9f1b4754eae0eec31abe38feb015f13648000f6e",
}


def write_late_types_csv(path: str, n: int = 3000) -> str:
    """``late_float`` is integral until row 2500, ``late_str`` numeric until row 2900; ``pad`` has padded ints;
    missing cells in ``late_float``; ``empty_col`` is all empty."""
    lines = ["id,late_float,late_str,pad,amount,cat,empty_col"]
    for i in range(n):
        late_float = f"{i}.5" if i == 2500 else ("" if i % 11 == 0 else str(i % 97))
        late_str = "n/a" if i == 2900 else str(i % 13)
        pad = f" {i % 7}" if i % 5 == 0 else str(i % 7)
        lines.append(f"{i},{late_float},{late_str},{pad},{i * 0.25 - 3},c{i % 4},")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def records_digest(files: list[str]) -> str:
    from tensorflow.core.example.example_pb2 import Example

    from components._shared.artifacts.examples import iter_records

    h = hashlib.sha256()
    for record in iter_records(files):
        h.update(Example.FromString(record).SerializeToString(deterministic=True))
    return h.hexdigest()


def file_digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
