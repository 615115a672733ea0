"""Train: real Keras training on real TF Transform output, exported with raw-feature signatures."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import components  # noqa: F401
from components._shared import artifacts, kinds
from components._shared.artifacts import examples as examples_layout
from components._shared.artifacts import model as model_layout
from components._shared.modules import ModuleFileError
from components.train.logic import INT_MISSING, LabelError, run_training
from components.transform.logic import run_transform
from tests.testdata.chain import FRAUD_MODULE, infer_schema
from tests.testdata.contract import unnamed_files

pytestmark = pytest.mark.unit

# One transform serves the three task types: the fraud features plus a 3-class label (channel id)
# and a regression target (log amount). No build_model/run_fn: kfx's default model is used.
TASKS_MODULE = f"""
import tensorflow as tf
import tensorflow_transform as tft
import importlib.util

_spec = importlib.util.spec_from_file_location("kfx_fraud_module", {FRAUD_MODULE!r})
_fraud = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fraud)

RAW_LABEL_KEYS = ["is_fraud"]


def preprocessing_fn(inputs):
    out = _fraud.preprocessing_fn(inputs)
    channel = _fraud._fill(inputs["channel"], "")
    out["channel_class"] = tft.compute_and_apply_vocabulary(channel, vocab_filename="channel_class")
    out["log_amount"] = tf.math.log1p(tf.cast(_fraud._fill(inputs["amount"], 0.0), tf.float32))
    return out
"""


def auc(scores, labels) -> float:
    """ROC AUC by rank statistics (Mann-Whitney U), ties averaged."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, int)
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    pos, neg = labels.sum(), len(labels) - labels.sum()
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def _raw_eval(examples_dir: str, limit: int | None = None):
    import tensorflow as tf

    records = [r.numpy() for r in tf.data.TFRecordDataset(examples_layout.split_files(examples_dir, "eval"))]
    return records[:limit] if limit else records


def _without(record: bytes, keys) -> bytes:
    import tensorflow as tf

    ex = tf.train.Example.FromString(record)
    for k in keys:
        if k in ex.features.feature:
            del ex.features.feature[k]
    return ex.SerializeToString()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """500 generated fraud rows -> ingest -> TFDV schema -> transform with TASKS_MODULE."""
    from components.datagen import fraud
    from components.ingest.logic import ingest_csv

    root = tmp_path_factory.mktemp("train")
    module = root / "tasks_module.py"
    module.write_text(TASKS_MODULE)
    csv = fraud.write_csv(str(root / "fraud.csv"), 500, seed=2)
    ingest_csv(csv, str(root / "examples"))
    infer_schema(str(root / "examples"), str(root / "statistics"), str(root / "schema"))
    run_transform(str(root / "examples"), str(root / "schema"), str(module), str(root / "tg"), str(root / "te"))
    return {
        "root": root,
        "csv": csv,
        "module": str(module),
        "examples": str(root / "examples"),
        "tg": str(root / "tg"),
        "te": str(root / "te"),
    }


@pytest.fixture(scope="module")
def binary_model(data):
    model_dir = str(data["root"] / "model_binary")
    result = run_training(
        data["te"], data["tg"], data["module"], model_dir, label_key="is_fraud", epochs=1, batch_size=64
    )
    return model_dir, result


def test_binary_export_layout_and_signatures(data, binary_model):
    import tensorflow as tf

    model_dir, result = binary_model
    assert result.train_rows > 0 and result.eval_rows > 0 and np.isfinite(result.loss)
    assert {"accuracy", "auc"} <= set(result.metrics)
    meta = model_layout.read_model_meta(model_dir)
    assert meta["label_key"] == "is_fraud" and meta["task"] == "binary" and meta["raw_label_keys"] == ["is_fraud"]
    assert "is_fraud" not in meta["features"] and meta["features"]["amount"] == "float32"
    assert meta["features"]["merchant_category"] == "string" and meta["features"]["hour"] == "int64"
    assert os.listdir(model_layout.logs_dir(model_dir))  # TensorBoard logs
    assert unnamed_files(model_dir, kinds.MODEL) == []  # every file is one the artifact contract names
    _assert_lineage(data, model_dir, result)

    loaded = tf.saved_model.load(model_layout.kfx_saved_model_dir(model_dir))
    assert {artifacts.SERVING_SIGNATURE, artifacts.RAW_SIGNATURE, artifacts.TRANSFORM_SIGNATURE} <= set(
        loaded.signatures
    )
    records = [_without(r, ["is_fraud"]) for r in _raw_eval(data["examples"], 50)]
    out = loaded.signatures[artifacts.SERVING_SIGNATURE](examples=tf.constant(records))[artifacts.OUTPUT_KEY]
    assert out.dtype == tf.float32 and out.shape == (len(records), 1)
    assert np.all((out.numpy() >= 0) & (out.numpy() <= 1))

    transformed = loaded.signatures[artifacts.TRANSFORM_SIGNATURE](examples=tf.constant(_raw_eval(data["examples"], 5)))
    assert transformed["is_fraud"].shape == (5,) and "amount_xf" in transformed


def _sha256(path: str) -> str:
    import hashlib

    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _assert_lineage(data, model_dir: str, result) -> None:
    """lineage.json: the real values carried from ingest (data hash, rows) and transform (URIs), plus train's own."""
    from components._shared.lineage import KEYS

    lineage = model_layout.read_lineage(model_dir)
    assert lineage == result.lineage
    assert set(lineage) == set(KEYS)
    assert all(isinstance(v, str | int | float) for v in lineage.values())  # no nulls (KFP metadata)
    assert lineage["data_uri"] == data["csv"] and lineage["data_sha256"] == _sha256(data["csv"])
    assert lineage["data_rows"] == 500 and lineage["train_rows"] + lineage["eval_rows"] == 500
    assert lineage["examples_uri"] == data["examples"] and lineage["schema_uri"] == str(data["root"] / "schema")
    assert lineage["transform_graph_uri"] == data["tg"] and lineage["model_uri"] == model_dir
    assert lineage["module_file"] == data["module"] and lineage["module_sha256"] == _sha256(data["module"])
    hyper = json.loads(lineage["hyperparameters"])
    assert hyper["epochs"] == 1 and hyper["batch_size"] == result.batch_size and hyper["seed"] == 0
    assert lineage["kfx_version"] == "0.1.0" and lineage["git_commit"]  # a sha here (a checkout), else "unknown"
    assert lineage["run_id"] == "" and lineage["pipeline_name"] == ""  # not run by KFP


def test_export_without_layer_traces_keeps_predictions_and_keras_revival(data, binary_model):
    """kfx's default model (built-in layers) is exported without per-layer traces (fast to write and to load);
    Keras' load_model still rebuilds it from its config and predicts exactly what the serving signature does."""
    import tensorflow as tf

    from components.train.export import needs_layer_traces

    model_dir, _ = binary_model
    saved = model_layout.kfx_saved_model_dir(model_dir)
    keras_model = tf.keras.models.load_model(saved)
    assert not needs_layer_traces(keras_model)
    loaded = tf.saved_model.load(saved)
    records = _raw_eval(data["examples"], 20)
    served = loaded.signatures[artifacts.SERVING_SIGNATURE](examples=tf.constant(records))[artifacts.OUTPUT_KEY]
    meta = model_layout.read_model_meta(model_dir)
    features = loaded.signatures[artifacts.TRANSFORM_SIGNATURE](examples=tf.constant(records))
    inputs = {k: tf.reshape(features[k], [-1, 1]) for k in meta["transformed_features"]}
    np.testing.assert_allclose(keras_model(inputs, training=False).numpy(), served.numpy(), rtol=1e-6)

    class Doubled(tf.keras.layers.Layer):  # a user's own layer: traces kept (no config to rebuild it from)
        def call(self, x):
            return 2 * x

    x = tf.keras.Input(shape=(1,))
    assert needs_layer_traces(tf.keras.Model(x, Doubled()(x)))


def test_serving_raw_equals_serving_default(data, binary_model):
    """The same rows through the dense raw-tensor signature and the tf.Example one: same predictions,
    missing values (absent from the tf.Example; '' / NaN in serving_raw) included."""
    import tensorflow as tf

    model_dir, _ = binary_model
    loaded = tf.saved_model.load(model_layout.kfx_saved_model_dir(model_dir))
    raw_sig = loaded.signatures[artifacts.RAW_SIGNATURE]
    records = [_without(r, ["is_fraud"]) for r in _raw_eval(data["examples"], 60)]
    columns: dict[str, list] = {}
    specs = raw_sig.structured_input_signature[1]
    assert "is_fraud" not in specs and all(s.shape.as_list() == [None] for s in specs.values())
    n_missing = 0
    for rec in records:
        feats = tf.train.Example.FromString(rec).features.feature
        for name, spec in specs.items():
            f = feats.get(name)
            kind = f.WhichOneof("kind") if f is not None else None
            if kind is None or not getattr(f, kind).value:
                n_missing += 1
                value = {tf.string: "", tf.float32: float("nan"), tf.int64: INT_MISSING}[spec.dtype]
            else:
                value = getattr(f, kind).value[0]
                value = value.decode() if isinstance(value, bytes) else value
            columns.setdefault(name, []).append(value)
    assert n_missing > 0  # device_type is absent for in-person transactions; account_age_days (int) sometimes
    meta = model_layout.read_model_meta(model_dir)
    assert {"device_type", "account_age_days", "distance_from_home_km"} <= set(meta["optional_features"])
    raw = {name: tf.constant(values, dtype=specs[name].dtype) for name, values in columns.items()}
    by_raw = raw_sig(**raw)[artifacts.OUTPUT_KEY].numpy()
    by_example = loaded.signatures[artifacts.SERVING_SIGNATURE](examples=tf.constant(records))[
        artifacts.OUTPUT_KEY
    ].numpy()
    np.testing.assert_allclose(by_raw, by_example, rtol=1e-5, atol=1e-6)


def test_multiclass(data):
    """No num_classes: kfx infers 3 from the label's vocabulary (atm, online, pos)."""
    import tensorflow as tf

    model_dir = str(data["root"] / "model_mc")
    result = run_training(
        data["te"],
        data["tg"],
        data["module"],
        model_dir,
        label_key="channel_class",
        task="multiclass",
        epochs=1,
        batch_size=64,
    )
    assert "accuracy" in result.metrics
    loaded = tf.saved_model.load(model_layout.kfx_saved_model_dir(model_dir))
    records = [_without(r, ["is_fraud"]) for r in _raw_eval(data["examples"], 20)]
    out = loaded.signatures[artifacts.SERVING_SIGNATURE](examples=tf.constant(records))[artifacts.OUTPUT_KEY].numpy()
    assert out.shape == (20, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    assert model_layout.read_model_meta(model_dir)["num_classes"] == 3


def test_regression(data):
    import tensorflow as tf

    model_dir = str(data["root"] / "model_reg")
    result = run_training(
        data["te"],
        data["tg"],
        data["module"],
        model_dir,
        label_key="log_amount",
        task="regression",
        epochs=2,
        batch_size=32,
        learning_rate=1e-2,
    )
    assert {"mae", "rmse"} <= set(result.metrics) and np.isfinite(result.loss)
    loaded = tf.saved_model.load(model_layout.kfx_saved_model_dir(model_dir))
    records = [_without(r, ["is_fraud"]) for r in _raw_eval(data["examples"], 20)]
    out = loaded.signatures[artifacts.SERVING_SIGNATURE](examples=tf.constant(records))[artifacts.OUTPUT_KEY].numpy()
    assert out.shape == (20, 1) and np.all(np.isfinite(out))


def test_bad_parameters_are_clear_errors(data, tmp_path):
    te, tg, module = data["te"], data["tg"], data["module"]
    with pytest.raises(ValueError, match="label 'nope' is not a transformed feature"):
        run_training(te, tg, module, str(tmp_path / "m"), label_key="nope")
    with pytest.raises(ValueError, match="task must be one of"):
        run_training(te, tg, module, str(tmp_path / "m"), label_key="is_fraud", task="ranking")
    with pytest.raises(LabelError, match=r"num_classes=2 but label 'channel_class' takes values up to 2"):
        run_training(te, tg, module, str(tmp_path / "m"), label_key="channel_class", task="multiclass", num_classes=2)
    with pytest.raises(LabelError, match=r"num_classes=5 but the vocabulary of label 'channel_class' has 3 classes"):
        run_training(te, tg, module, str(tmp_path / "m"), label_key="channel_class", task="multiclass", num_classes=5)
    with pytest.raises(LabelError, match=r"raw_label_key 'channel' is not in the module's RAW_LABEL_KEYS"):
        run_training(te, tg, module, str(tmp_path / "m"), label_key="is_fraud", raw_label_key="channel")
    broken = tmp_path / "broken.py"
    broken.write_text("def build_model(args:\n")
    with pytest.raises(ModuleFileError, match="syntax error") as e:
        run_training(te, tg, str(broken), str(tmp_path / "m"), label_key="is_fraud")
    assert str(broken) in str(e.value)
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_fraud_module_reaches_auc_above_0_8(tmp_path):
    """The shipped fraud module (its build_model) on 3,000 generated rows: eval AUC > 0.8 by rank statistics."""
    import tensorflow as tf

    from tests.testdata.chain import build_chain

    dirs = build_chain(str(tmp_path / "chain"), n_rows=3000)
    loaded = tf.saved_model.load(model_layout.kfx_saved_model_dir(dirs["model"]))
    records = _raw_eval(dirs["examples"])
    labels = [tf.train.Example.FromString(r).features.feature["is_fraud"].int64_list.value[0] for r in records]
    scores = loaded.signatures[artifacts.SERVING_SIGNATURE](
        examples=tf.constant([_without(r, ["is_fraud"]) for r in records])
    )
    assert auc(scores[artifacts.OUTPUT_KEY].numpy()[:, 0], labels) > 0.8


@pytest.mark.slow
def test_taxi_module_run_fn(tmp_path, taxi_csv):
    """The shipped taxi module (run_fn path) on the real table: tips > 20% of fare, AUC well above chance."""
    import tensorflow as tf

    from tests.testdata.chain import TAXI_MODULE, build_chain

    dirs = build_chain(
        str(tmp_path / "taxi"),
        module_file=TAXI_MODULE,
        data_uri=taxi_csv,
        label_key="big_tipper",
        epochs=3,
        batch_size=256,
    )
    meta = model_layout.read_model_meta(dirs["model"])
    assert meta["raw_label_keys"] == ["tips"] and "tips" not in meta["features"]
    loaded = tf.saved_model.load(model_layout.kfx_saved_model_dir(dirs["model"]))
    records = _raw_eval(dirs["examples"], 2000)
    labels = loaded.signatures[artifacts.TRANSFORM_SIGNATURE](examples=tf.constant(records))["big_tipper"].numpy()
    scores = loaded.signatures[artifacts.SERVING_SIGNATURE](
        examples=tf.constant([_without(r, ["tips"]) for r in records])
    )
    assert auc(scores[artifacts.OUTPUT_KEY].numpy()[:, 0], labels) > 0.75


# ---------------------------------------------------------------------------------------------------------------------
# The example modules (multiclass, regression) on a 267-row table, at the default training settings.

SPECIES_MODULE = os.path.join(os.path.dirname(FRAUD_MODULE), "penguins_species.py")
MASS_MODULE = os.path.join(os.path.dirname(FRAUD_MODULE), "penguins_mass.py")


@pytest.fixture(scope="module")
def penguins(tmp_path_factory):
    """267 penguin rows -> ingest -> statistics -> schema (the real steps)."""
    from components.ingest.logic import ingest_csv
    from components.schema.logic import make_schema
    from components.statistics.logic import compute_statistics
    from tests.testdata.penguins import write_csv

    root = tmp_path_factory.mktemp("penguins")
    ingest_csv(write_csv(str(root / "penguins.csv"), 267, seed=0), str(root / "examples"))
    compute_statistics(str(root / "examples"), str(root / "statistics"))
    make_schema(str(root / "statistics"), str(root / "schema"))
    return root


def _transform(root, module: str, name: str, raw_label_key: str = "") -> tuple[str, str]:
    tg, te = str(root / f"{name}_tg"), str(root / f"{name}_te")
    run_transform(
        str(root / "examples"), str(root / "schema"), module, tg, te,
        statistics_dir=str(root / "statistics"), raw_label_key=raw_label_key,
    )  # fmt: skip
    return tg, te


def test_multiclass_example_trains_sensibly_at_defaults(penguins):
    """Issue 7: 267 rows, 3 species, no num_classes/epochs/batch_size given. kfx infers 3 classes, bounds the
    batch by the data size and stops on the eval loss: accuracy well above the 0.51 the old defaults reached."""
    import tensorflow as tf

    tg, te = _transform(penguins, SPECIES_MODULE, "species", raw_label_key="species")
    model_dir = str(penguins / "species_model")
    result = run_training(te, tg, SPECIES_MODULE, model_dir, label_key="species_id", task="multiclass")
    assert result.batch_size == 16 and 5 < result.epochs_run <= 50
    assert result.metrics["accuracy"] >= 0.85, result
    meta = model_layout.read_model_meta(model_dir)
    assert meta["num_classes"] == 3 and meta["raw_label_keys"] == ["species"] and "species" not in meta["features"]
    assert sorted(meta["classes"]) == ["Adelie", "Chinstrap", "Gentoo"]  # names for evaluate's confusion matrix
    loaded = tf.saved_model.load(model_layout.kfx_saved_model_dir(model_dir))
    records = [_without(r, ["species"]) for r in _raw_eval(str(penguins / "examples"), 10)]
    out = loaded.signatures[artifacts.SERVING_SIGNATURE](examples=tf.constant(records))[artifacts.OUTPUT_KEY].numpy()
    assert out.shape == (10, 3)


def test_regression_example_and_label_kept_out_of_serving(penguins):
    """The regression example beats the naive (mean) predictor clearly; its raw label body_mass_g, named only by
    the pipeline's raw_label_key (the module has no RAW_LABEL_KEYS), is not a serving input."""
    import tensorflow as tf

    tg, te = _transform(penguins, MASS_MODULE, "mass")
    model_dir = str(penguins / "mass_model")
    result = run_training(
        te, tg, MASS_MODULE, model_dir, label_key="body_mass_kg", task="regression", raw_label_key="body_mass_g"
    )
    labels = [
        tf.train.Example.FromString(r.numpy()).features.feature["body_mass_kg"].float_list.value[0]
        for r in tf.data.TFRecordDataset(examples_layout.split_files(te, "eval"))
    ]
    naive_mae = float(np.mean(np.abs(np.asarray(labels) - np.mean(labels))))
    assert result.metrics["mae"] < 0.75 * naive_mae, (result.metrics, naive_mae)
    meta = model_layout.read_model_meta(model_dir)
    assert meta["raw_label_keys"] == ["body_mass_g"] and "body_mass_g" not in meta["features"]
    loaded = tf.saved_model.load(model_layout.kfx_saved_model_dir(model_dir))
    assert "body_mass_g" not in loaded.signatures[artifacts.RAW_SIGNATURE].structured_input_signature[1]


def test_raw_label_keys_one_source_checked():
    from components.train.labels import raw_label_keys

    raw = {"species": None, "island": None, "tips": None, "fare": None}
    assert raw_label_keys("species", [], None, "species_id", raw) == ["species"]
    assert raw_label_keys("", ["species"], None, "species_id", raw) == ["species"]  # recorded by transform
    assert raw_label_keys("", [], ["tips"], "big_tipper", raw) == ["tips"]  # the module's RAW_LABEL_KEYS
    assert raw_label_keys("tips", [], ["tips", "fare"], "big_tipper", raw) == ["tips", "fare"]
    assert raw_label_keys("", [], None, "island", raw) == ["island"]  # label_key is itself a raw column
    assert raw_label_keys("", [], None, "species_id", raw) == []
    with pytest.raises(LabelError, match="differs from 'island' given to transform"):
        raw_label_keys("species", ["island"], None, "species_id", raw)
    with pytest.raises(LabelError, match="not in the module's RAW_LABEL_KEYS"):
        raw_label_keys("species", [], ["tips"], "species_id", raw)
    with pytest.raises(LabelError, match=r"\['nope'\] are not raw features"):
        raw_label_keys("nope", [], None, "species_id", raw)


def test_batch_size_bounded_by_data_size():
    from components.train.fit import effective_batch_size

    assert effective_batch_size(256, 213) == 16  # the 267-row table's train split: 14 steps per epoch, not 1
    assert effective_batch_size(256, 2_000) == 100
    assert effective_batch_size(256, 16_000) == 256  # large data keeps the given batch
    assert effective_batch_size(8, 213) == 8  # never above what was asked
    assert effective_batch_size(256, 0) == 256  # row counts unknown


def _fit_default_model(data, model_dir: str):
    """kfx's default model on the fixture's transformed data, fitted by kfx's fit for 2 epochs from seed 0."""
    import tensorflow as tf

    from components._shared.modules import load_module
    from components.train import logic

    args = logic._make_args(
        data["te"], data["tg"], load_module(data["module"]), data["module"], model_dir, "is_fraud", "binary",
        dict(epochs=2, batch_size=64, learning_rate=1e-3, hidden_units=(16, 8), num_classes=0, hyperparameters=None,
             seed=0, raw_label_key=""),
    )  # fmt: skip
    tf.keras.utils.set_random_seed(args.seed)
    model = logic.default_model(args)
    args.fit(model)
    return model, args


def test_optimizer_built_before_fit_traces_once_and_trains_identically(data, monkeypatch):
    """Building Adam's slot variables before fit (fit.build_optimizer) saves the second trace of the train step;
    the weights, history and predictions are bit-for-bit those of the old path (variables created in the step)."""
    from components.train import fit as fit_module

    new, new_args = _fit_default_model(data, str(data["root"] / "prebuilt"))
    monkeypatch.setattr(fit_module, "build_optimizer", lambda model: False)  # the old path
    old, old_args = _fit_default_model(data, str(data["root"] / "lazy"))
    assert old.train_function.experimental_get_tracing_count() == 2
    assert new.train_function.experimental_get_tracing_count() == 1
    assert new_args.history == old_args.history
    for a, b in zip(old.get_weights(), new.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        old.predict(old_args.dataset("eval"), verbose=0), new.predict(new_args.dataset("eval"), verbose=0)
    )


def test_split_parsed_once_gives_the_streaming_batches_and_the_same_model(data, monkeypatch):
    """A small split is parsed once and batched from memory (args.IN_MEMORY_VALUES); every batch of three epochs
    (train: shuffled, reshuffled each epoch; eval: in order) and the trained model are those of the streaming path."""
    import tensorflow as tf

    from components.train import args as args_module

    def batches(model_dir: str) -> list:
        model, args = _fit_default_model(data, model_dir)
        tf.keras.utils.set_random_seed(args.seed)
        out = []
        for split in ("train", "eval"):
            ds = args.dataset(split)
            out += [(split, {k: v.numpy() for k, v in x.items()}, y.numpy()) for _ in range(3) for x, y in ds]
        return model, args, out

    assert args_module._fits_in_memory(
        {"a": tf.io.FixedLenFeature([], tf.float32), "b": tf.io.FixedLenFeature([2], tf.int64)}, ["a", "b"], 1000
    )
    assert not args_module._fits_in_memory({"a": tf.io.VarLenFeature(tf.string)}, ["a"], 1000)
    new_model, new_args, new = batches(str(data["root"] / "in_memory"))
    spec = new_args.tf_transform_output.transformed_feature_spec()
    assert args_module._fits_in_memory(spec, [*new_args.feature_keys, new_args.label_key], new_args.train_rows)
    monkeypatch.setattr(args_module, "IN_MEMORY_VALUES", 0)  # the streaming path
    old_model, old_args, old = batches(str(data["root"] / "streamed"))
    assert len(old) == len(new) and len(old) > 6
    for (split_a, xa, ya), (split_b, xb, yb) in zip(old, new, strict=True):
        assert split_a == split_b and xa.keys() == xb.keys()
        for k in xa:
            np.testing.assert_array_equal(xa[k], xb[k])
        np.testing.assert_array_equal(ya, yb)
    assert new_args.history == old_args.history
    for a, b in zip(old_model.get_weights(), new_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def _signature_outputs(saved_model_dir: str, examples: list[bytes]) -> dict:
    import tensorflow as tf

    loaded = tf.saved_model.load(saved_model_dir)
    no_label = tf.constant([_without(r, ["is_fraud"]) for r in examples])
    out = {
        "default": loaded.signatures[artifacts.SERVING_SIGNATURE](examples=no_label),
        "transform": loaded.signatures[artifacts.TRANSFORM_SIGNATURE](examples=tf.constant(examples)),
    }
    return {name: {k: v.numpy() for k, v in outs.items()} for name, outs in out.items()}


def test_signatures_traced_without_autograph_give_the_same_outputs(data, monkeypatch):
    """kfx's signatures over built-in/kfx/TFT layers are traced without AutoGraph (export.signatures_need_autograph):
    the exported signatures give bit-for-bit the outputs of the AutoGraph-traced ones; a user's own layer class keeps
    AutoGraph (its call may branch on tensor values)."""
    import tensorflow as tf

    from components.train import export as export_module

    model, args = _fit_default_model(data, str(data["root"] / "plain_sigs"))
    assert not export_module.signatures_need_autograph(model)

    class UserLayer(tf.keras.layers.Layer):
        def call(self, x):
            return x

    inp = tf.keras.Input(shape=(1,))
    assert export_module.signatures_need_autograph(tf.keras.Model(inp, UserLayer()(inp)))

    examples = _raw_eval(data["examples"], limit=64)
    args.serving_model_dir = str(data["root"] / "plain_sigs" / "new")
    export_module.export_model(model, args)
    new = _signature_outputs(args.serving_model_dir, examples)
    monkeypatch.setattr(export_module, "signatures_need_autograph", lambda m: True)  # the old path
    args.serving_model_dir = str(data["root"] / "plain_sigs" / "old")
    export_module.export_model(model, args)
    old = _signature_outputs(args.serving_model_dir, examples)
    for name in old:
        assert old[name].keys() == new[name].keys()
        for k in old[name]:
            np.testing.assert_array_equal(old[name][k], new[name][k])


def test_final_evaluation_reuses_the_validation_of_the_same_weights(data, monkeypatch):
    """fit.evaluate returns fit's validation of the weights fit ended with (the epoch early stopping kept), equal to
    a fresh model.evaluate; changed weights or a new compile evaluate again."""
    import tensorflow as tf

    from components.train import fit as fit_module

    model, args = _fit_default_model(data, str(data["root"] / "reuse"))
    fresh = model.evaluate(args.dataset("eval"), return_dict=True, verbose=0)
    assert fit_module._reusable(model, args) == {k: float(v) for k, v in fresh.items()}
    result = fit_module.evaluate(model, args)
    assert result.loss == float(fresh["loss"]) and set(result.metrics) == set(fresh) - {"loss"}
    assert all(result.metrics[k] == float(fresh[k]) for k in result.metrics)

    # early stopping that keeps the first epoch: its validation is what holds after fit restored its weights
    monkeypatch.setattr(fit_module, "callbacks", lambda a: [fit_module._stop_on_plateau_class()(patience=1, rel=10.0)])
    model, args = _fit_default_model(data, str(data["root"] / "reuse_restored"))
    assert len(args.history["loss"]) == 2
    fresh = model.evaluate(args.dataset("eval"), return_dict=True, verbose=0)
    reused = fit_module._reusable(model, args)
    assert reused == {k: float(v) for k, v in fresh.items()} and reused["loss"] == args.history["val_loss"][0]

    model.set_weights([w + 1e-3 for w in model.get_weights()])
    assert fit_module._reusable(model, args) is None
    model.set_weights(args.validated.weights)
    assert fit_module._reusable(model, args) is not None
    model.compile(optimizer="adam", loss=tf.keras.losses.BinaryCrossentropy(), metrics=["accuracy"])
    assert fit_module._reusable(model, args) is None


def test_parse_without_autograph_gives_the_same_batches(data, monkeypatch):
    """kfx's dataset functions are traced as written (args._plain), not through AutoGraph: the same batches."""
    import tensorflow as tf

    from components.train import args as args_module

    def batches(args) -> list:
        tf.keras.utils.set_random_seed(args.seed)
        return [
            (split, {k: v.numpy() for k, v in x.items()}, y.numpy())
            for split in ("train", "eval")
            for x, y in args.dataset(split)
        ]

    _, args = _fit_default_model(data, str(data["root"] / "plain_parse"))
    for limit in (args_module.IN_MEMORY_VALUES, 0):  # parsed once; streamed
        monkeypatch.setattr(args_module, "IN_MEMORY_VALUES", limit)
        monkeypatch.setattr(args_module, "_plain", tf.autograph.experimental.do_not_convert)
        new = batches(args)
        monkeypatch.setattr(args_module, "_plain", lambda fn: fn)  # the old path: AutoGraph converts them
        old = batches(args)
        assert len(old) == len(new) > 2
        for (split_a, xa, ya), (split_b, xb, yb) in zip(old, new, strict=True):
            assert split_a == split_b and xa.keys() == xb.keys()
            for k in xa:
                np.testing.assert_array_equal(xa[k], xb[k])
            np.testing.assert_array_equal(ya, yb)


def test_steps_per_execution_trains_identically(data, monkeypatch):
    """kfx's fit runs fit.STEPS_PER_EXECUTION train steps per call of Keras' train function (datasets of known length)
    when it plans fit.MULTI_STEP_MIN_STEPS steps or more: the weights, history and predictions are bit-for-bit those
    of one step per call, whether an epoch fits in one call or ends with a shorter one; the module's steps per
    execution is put back after fit; the validation reused as the final metrics equals a fresh evaluate."""
    from components._shared._compat.keras import steps_per_execution
    from components.train import fit as fit_module

    monkeypatch.setattr(fit_module, "MULTI_STEP_MIN_STEPS", 1)
    runs = {}
    for steps in (1, 7, 64):  # 20 steps an epoch: one call per step; 7 + 7 + 6; one call
        monkeypatch.setattr(fit_module, "STEPS_PER_EXECUTION", steps)
        model, args = _fit_default_model(data, str(data["root"] / f"spe_{steps}"))
        batches = -(-args.train_rows // args.batch_size)
        assert 7 < batches < 64 and batches % 7 and steps_per_execution(model) == 1
        runs[steps] = model, args
    base_model, base_args = runs[1]
    for steps in (7, 64):
        model, args = runs[steps]
        assert args.history == base_args.history
        for a, b in zip(base_model.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(
            base_model.predict(base_args.dataset("eval"), verbose=0), model.predict(args.dataset("eval"), verbose=0)
        )
        fresh = model.evaluate(args.dataset("eval"), return_dict=True, verbose=0)  # one step a call, unknown length
        assert fit_module._reusable(model, args) == {k: float(v) for k, v in fresh.items()}
