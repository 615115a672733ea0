"""A small *real* kfx chain on disk, for tests of later steps (evaluate, serving, deploy).

``build_chain(workdir)`` runs the real logic: synthetic fraud CSV -> ingest -> TFDV statistics and
schema (in-memory path) -> TF Transform -> Keras training, and returns the artifact directories::

    dirs = build_chain(str(tmp_path_factory.mktemp("chain")))
    dirs["model"]  # <dir>/saved_model, model.json, logs/

Results are cached per ``workdir``: calling it again on a finished chain returns at once.
"""

from __future__ import annotations

import os

import components  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAUD_MODULE = os.path.join(ROOT, "pipelines", "modules", "fraud.py")
TAXI_MODULE = os.path.join(ROOT, "pipelines", "modules", "taxi.py")
TAXI_CSV = os.path.join(ROOT, "..", "shared", "data", "chicago_taxi", "data.csv")

_DONE = ".chain_done"


def infer_schema(examples_dir: str, statistics_dir: str, schema_dir: str) -> None:
    """TFDV statistics of every split (in memory) and a schema inferred from train statistics."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    from components._shared import artifacts
    from components._shared._compat.tfdv import streaming_statistics
    from components._shared.artifacts import examples as examples_layout
    from components._shared.artifacts.schema import write_schema
    from components._shared.artifacts.statistics import write_statistics

    train_stats = None
    for split in artifacts.SPLITS:
        batches = examples_layout.decode_batches(examples_layout.split_files(examples_dir, split))
        stats, _ = streaming_statistics(batches, tfdv.StatsOptions())
        write_statistics(statistics_dir, split, stats)
        if split == "train":
            train_stats = stats
    schema = tfdv.infer_schema(train_stats)
    # A column empty in train (taxi's pickup_census_tract: 1 value in 15k rows) gets TFDV's default
    # type BYTES; give it the type ingest found over the whole file so eval still decodes.
    columns = examples_layout.read_meta(examples_dir).get("columns", {})
    kinds = {"int": schema_pb2.INT, "float": schema_pb2.FLOAT}
    for feature in schema.feature:
        if feature.type == schema_pb2.BYTES and columns.get(feature.name) in kinds:
            feature.type = kinds[columns[feature.name]]
    write_schema(schema, schema_dir)


def build_chain(
    workdir: str,
    n_rows: int = 2000,
    module_file: str = FRAUD_MODULE,
    task: str = "binary",
    *,
    data_uri: str | None = None,
    label_key: str | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    num_classes: int = 0,
    seed: int = 0,
    train: bool = True,
) -> dict[str, str]:
    """Build (or reuse) a real chain under ``workdir``; returns {"data", "examples", "statistics", "schema",
    "transform_graph", "transformed_examples", "model"} directories (``model`` only when ``train``).

    Default data: ``n_rows`` rows of the synthetic fraud generator (label ``is_fraud``). Pass ``data_uri``
    (a CSV) and ``label_key`` (a transformed feature) with another ``module_file`` for other data.
    """
    from components.ingest.logic import ingest_csv
    from components.train.logic import run_training
    from components.transform.logic import run_transform

    dirs = {
        name: os.path.join(workdir, name)
        for name in ("examples", "statistics", "schema", "transform_graph", "transformed_examples", "model")
    }
    if not train:
        dirs.pop("model")
    if os.path.exists(os.path.join(workdir, _DONE)):
        dirs["data"] = open(os.path.join(workdir, _DONE)).read().strip()
        return dirs
    os.makedirs(workdir, exist_ok=True)
    if data_uri is None:
        from components.datagen import fraud

        data_uri = fraud.write_csv(os.path.join(workdir, "data", "fraud.csv"), n_rows, seed=seed)
        label_key = label_key or fraud.LABEL
    if label_key is None:
        raise ValueError("build_chain: pass label_key (a transformed feature) with data_uri")
    dirs["data"] = data_uri

    ingest_csv(data_uri, dirs["examples"], eval_fraction=0.2, seed=seed)
    infer_schema(dirs["examples"], dirs["statistics"], dirs["schema"])
    run_transform(dirs["examples"], dirs["schema"], module_file, dirs["transform_graph"], dirs["transformed_examples"])
    if train:
        run_training(
            dirs["transformed_examples"],
            dirs["transform_graph"],
            module_file,
            dirs["model"],
            label_key=label_key,
            task=task,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            num_classes=num_classes,
            seed=seed,
        )
    with open(os.path.join(workdir, _DONE), "w") as f:
        f.write(data_uri)
    return dirs


if __name__ == "__main__":  # python -m tests.testdata.chain <workdir> [n_rows]
    import sys

    print(build_chain(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2000))
