"""Build a real kfx model for the serving tests, plus the parity reference computed in the training env.

Run with the COMPONENTS environment (TFT/TFDV present)::

    .venv/bin/python tests/testdata/build_serving_model.py OUT_DIR [--rows 2000] [--eval-rows 64]

Writes ``OUT_DIR/model/`` (the model artifact of a real ingest -> schema -> transform -> train chain,
see ``tests/testdata/chain.py``) and ``OUT_DIR/expected.json``::

    {"model_dir": "model", "label_keys": [...], "instances": [{feature: value}, ...],   # raw eval rows, no label
     "predictions": [[p], ...]}   # the same rows through the model's serving_default signature

The predictions come from the training pipeline's evaluation path: the eval split's serialized
tf.Examples (label removed) through ``serving_default``. A feature absent from a record is absent
from its JSON instance too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import components  # noqa: E402,F401  (TF_USE_LEGACY_KERAS before TensorFlow)

COMPONENTS_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
# The sources whose change changes the model or the parity reference (cache key of ensure_built).
MODEL_SOURCES = (
    "tests/testdata/build_serving_model.py",
    "tests/testdata/chain.py",
    "pipelines/modules/fraud.py",
    "components/datagen",
    "components/ingest/logic.py",
    "components/transform/logic.py",
    "components/train/logic.py",
    "components/_shared",
)


def sources_hash() -> str:
    import hashlib

    h = hashlib.sha256()
    for rel in MODEL_SOURCES:
        path = os.path.join(ROOT, rel)
        files = (
            sorted(os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if f.endswith(".py"))
            if os.path.isdir(path)
            else [path]
        )
        for f in files:
            h.update(os.path.relpath(f, ROOT).encode())
            if os.path.exists(f):
                with open(f, "rb") as fh:
                    h.update(fh.read())
    return h.hexdigest()[:16]


def ensure_built(root: str | None = None, timeout: float = 1200) -> dict:
    """From any environment: the cached model + expected.json, built with the components env if stale.

    Cached at ``<tmp>/kfx-serving-model-<hash of MODEL_SOURCES>``; returns the parsed expected.json.
    """
    import subprocess
    import tempfile

    out = os.path.join(root or tempfile.gettempdir(), f"kfx-serving-model-{sources_hash()}")
    expected = os.path.join(out, "expected.json")
    if not os.path.exists(expected):
        if not os.path.exists(COMPONENTS_PYTHON):
            raise FileNotFoundError(f"the components environment ({COMPONENTS_PYTHON}) builds the test model: run make")
        proc = subprocess.run(
            [COMPONENTS_PYTHON, os.path.abspath(__file__), out],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0 or not os.path.exists(expected):
            raise RuntimeError(f"building the serving test model failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    with open(expected) as f:
        doc = json.load(f)
    doc["model_dir"] = os.path.join(out, doc["model_dir"])
    return doc


def _value(feature):
    kind = feature.WhichOneof("kind")
    values = list(getattr(feature, kind).value) if kind else []
    if not values:
        return None
    if len(values) > 1:
        raise ValueError("multi-valued raw features are not servable as JSON scalars")
    v = values[0]
    return v.decode("utf-8") if kind == "bytes_list" else (int(v) if kind == "int64_list" else float(v))


def build(out_dir: str, rows: int = 2000, eval_rows: int = 64) -> dict:
    import tensorflow as tf

    from components._shared import artifacts
    from components._shared.artifacts import examples as examples_layout
    from components._shared.artifacts import model as model_layout
    from tests.testdata.chain import build_chain

    dirs = build_chain(os.path.join(out_dir, "chain"), n_rows=rows)
    model_dir = os.path.join(out_dir, "model")
    if os.path.exists(model_dir):
        shutil.rmtree(model_dir)
    shutil.copytree(dirs["model"], model_dir)
    meta = model_layout.read_model_meta(model_dir)
    label_keys = set(meta.get("raw_label_keys") or []) | {meta["label_key"]}

    records = []
    for raw in examples_layout.read_records(dirs["examples"], "eval", eval_rows):
        ex = tf.train.Example.FromString(raw)
        for k in label_keys:
            if k in ex.features.feature:
                del ex.features.feature[k]
        records.append(ex)
    instances = []
    for ex in records:
        row = {k: _value(f) for k, f in sorted(ex.features.feature.items())}
        instances.append({k: v for k, v in row.items() if v is not None})

    loaded = tf.saved_model.load(model_layout.kfx_saved_model_dir(model_dir))
    serialized = tf.constant([ex.SerializeToString() for ex in records])
    predictions = loaded.signatures[artifacts.SERVING_SIGNATURE](examples=serialized)[artifacts.OUTPUT_KEY].numpy()
    expected = {
        "model_dir": "model",  # relative to OUT_DIR
        "label_keys": sorted(label_keys),
        "instances": instances,
        "predictions": predictions.tolist(),
    }
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f)
    return expected


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out_dir")
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--eval-rows", type=int, default=64)
    a = p.parse_args()
    expected = build(a.out_dir, a.rows, a.eval_rows)
    print(f"model: {a.out_dir}/model; {len(expected['instances'])} parity rows in {a.out_dir}/expected.json")


if __name__ == "__main__":
    main()
