"""Transform: real TF Transform on Beam (DirectRunner) over real ingested examples and a TFDV schema."""

from __future__ import annotations

import os

import pytest

import components  # noqa: F401
from components._shared import artifacts, kinds
from components._shared.artifacts import examples as examples_layout
from components._shared.artifacts import examples_writers
from components._shared.artifacts.schema import SchemaError
from components._shared.modules import ModuleFileError
from components._shared.runner import is_distributed
from components.transform.logic import count_records, run_transform
from tests.testdata.chain import FRAUD_MODULE, infer_schema
from tests.testdata.contract import unnamed_files

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """400 generated fraud rows -> ingest -> TFDV schema (the real upstream steps)."""
    from components.datagen import fraud
    from components.ingest.logic import ingest_csv

    root = tmp_path_factory.mktemp("transform_raw")
    csv = fraud.write_csv(str(root / "fraud.csv"), 400, seed=1)
    ingest_csv(csv, str(root / "examples"))
    infer_schema(str(root / "examples"), str(root / "statistics"), str(root / "schema"))
    return {"examples": str(root / "examples"), "schema": str(root / "schema"), "root": root}


@pytest.fixture(scope="module")
def transformed(raw):
    out = raw["root"] / "out"
    result = run_transform(raw["examples"], raw["schema"], FRAUD_MODULE, str(out / "tg"), str(out / "te"))
    return {"result": result, "tg": str(out / "tg"), "te": str(out / "te")}


def _parsed_rows(examples_dir: str, split: str, spec: dict) -> list[tuple]:
    """Each transformed example as a sorted tuple of (feature, values): order-free comparison."""
    import tensorflow as tf

    rows = []
    for rec in tf.data.TFRecordDataset(examples_layout.split_files(examples_dir, split)):
        ex = tf.train.Example.FromString(rec.numpy())
        row = []
        for name in sorted(spec):
            f = ex.features.feature[name]
            kind = f.WhichOneof("kind")
            row.append((name, tuple(getattr(f, kind).value) if kind else ()))
        rows.append(tuple(row))
    return sorted(rows)


def test_transform_writes_graph_with_raw_schema_and_every_row(raw, transformed):
    import tensorflow_transform as tft

    tg, te, result = transformed["tg"], transformed["te"], transformed["result"]
    out = tft.TFTransformOutput(tg)
    raw_spec = out.raw_feature_spec()  # needs metadata/ (the raw schema) next to the transform graph
    assert {"amount", "merchant_category", "is_fraud", "device_type"} <= set(raw_spec)
    assert os.path.isdir(os.path.join(tg, tft.TFTransformOutput.RAW_METADATA_DIR))
    spec = out.transformed_feature_spec()
    assert {"amount_xf", "merchant_category_xf", "is_fraud", "account_age_days_missing"} <= set(spec)
    assert out.num_buckets_for_transformed_feature("channel_xf") == 4  # pos, online, atm + 1 OOV bucket

    for split in artifacts.SPLITS:
        n_in = count_records(examples_layout.split_files(raw["examples"], split))
        n_out = count_records(examples_layout.split_files(te, split))
        assert n_in == n_out == result.rows[split] > 0
    meta = examples_layout.read_meta(te)
    assert meta["splits"] == result.rows
    assert meta["columns"]["amount_xf"] == "float" and meta["columns"]["channel_xf"] == "int"
    # no scratch space left in the artifact, and every file is one the contract names
    assert not [p for p in os.listdir(tg) if p.startswith(".")]
    assert unnamed_files(tg, kinds.TRANSFORM_GRAPH) == []
    assert unnamed_files(te, kinds.TRANSFORMED_EXAMPLES) == []


def test_in_process_apply_equals_beam_apply(raw, transformed, tmp_path):
    """Applying the analyzed graph in process (the default without a distributed runner) = Beam's output."""
    import tensorflow_transform as tft

    beam_te = str(tmp_path / "te")
    result = run_transform(
        raw["examples"], raw["schema"], FRAUD_MODULE, str(tmp_path / "tg"), beam_te, in_process_apply=False
    )
    assert result.rows == transformed["result"].rows
    spec = tft.TFTransformOutput(transformed["tg"]).transformed_feature_spec()
    for split in artifacts.SPLITS:
        assert _parsed_rows(beam_te, split, spec) == _parsed_rows(transformed["te"], split, spec)


def test_module_errors_name_the_file_and_write_nothing(raw, tmp_path):
    no_fn = tmp_path / "no_fn.py"
    no_fn.write_text("import tensorflow as tf\n\ndef build_model(args):\n    return None\n")
    broken = tmp_path / "broken.py"
    broken.write_text("def preprocessing_fn(inputs):\n    return {\n")
    for module, message in [
        (no_fn, "does not define preprocessing_fn"),
        (broken, "syntax error"),
        (tmp_path / "absent.py", "does not exist"),
    ]:
        out = tmp_path / f"out_{module.stem}"
        with pytest.raises(ModuleFileError, match=message) as e:
            run_transform(raw["examples"], raw["schema"], str(module), str(out / "tg"), str(out / "te"))
        assert str(module) in str(e.value)
        assert not out.exists()


def test_missing_inputs_are_clear_errors(raw, tmp_path):
    with pytest.raises(SchemaError, match="schema.pbtxt"):
        run_transform(raw["examples"], str(tmp_path), FRAUD_MODULE, str(tmp_path / "tg"), str(tmp_path / "te"))
    with pytest.raises(FileNotFoundError, match="no 'train' examples"):
        run_transform(str(tmp_path), raw["schema"], FRAUD_MODULE, str(tmp_path / "tg"), str(tmp_path / "te"))
    assert not (tmp_path / "tg").exists()


def test_raw_label_key_is_recorded_and_checked(raw, transformed, tmp_path):
    from components._shared.artifacts.transform_graph import read_transform_meta

    out = tmp_path / "out"
    run_transform(
        raw["examples"], raw["schema"], FRAUD_MODULE, str(out / "tg"), str(out / "te"), raw_label_key="is_fraud"
    )
    meta = read_transform_meta(str(out / "tg"))
    assert meta["raw_label_keys"] == ["is_fraud"] and "device_type" in meta["optional_features"]
    with pytest.raises(ValueError, match="raw_label_key 'fraud' is not a column of the schema"):
        run_transform(
            raw["examples"],
            raw["schema"],
            FRAUD_MODULE,
            str(tmp_path / "tg"),
            str(tmp_path / "te"),
            raw_label_key="fraud",
        )
    assert not (tmp_path / "tg").exists()


def test_required_column_missing_in_eval_is_an_anomaly_not_a_crash(taxi_csv, tmp_path):
    """Issue 7: a curated schema requires pickup_* (as train-only inference did) and two eval rows lack them.
    validate names the anomaly; with fail_on_anomalies=False the run goes on and Transform, given the statistics,
    parses those columns as optional instead of crashing in TensorFlow's parser."""
    import tensorflow_data_validation as tfdv

    from components._shared.artifacts.schema import write_schema
    from components._shared.artifacts.transform_graph import read_transform_meta
    from components.statistics.logic import load_statistics
    from components.validate.logic import validate
    from tests.testdata.optional_columns import PICKUP, taxi_subset, write_module

    dirs = taxi_subset(taxi_csv, str(tmp_path))
    curated = str(tmp_path / "curated")
    write_schema(tfdv.infer_schema(load_statistics(dirs["statistics"], "train")), curated)

    result = validate(dirs["statistics"], curated, str(tmp_path / "anomalies"))  # validate never fails: a gate does
    named = {(f.feature, f.source) for f in result.findings}
    assert {(name, "eval") for name in PICKUP} <= named

    tg, te = str(tmp_path / "tg"), str(tmp_path / "te")
    out = run_transform(
        dirs["examples"], curated, write_module(str(tmp_path)), tg, te, statistics_dir=dirs["statistics"]
    )
    for split in artifacts.SPLITS:
        assert out.rows[split] == count_records(examples_layout.split_files(dirs["examples"], split)) > 0
    assert set(PICKUP) <= set(read_transform_meta(tg)["optional_features"])


def test_runner_detection():
    assert not is_distributed([])
    assert not is_distributed(["--direct_running_mode=multi_processing", "--direct_num_workers=0"])
    assert is_distributed(["--runner=DataflowRunner", "--project=p"])
    assert is_distributed(["--runner", "FlinkRunner"])


@pytest.mark.slow
def test_multi_processing_runner_gives_the_same_rows(raw, transformed, tmp_path):
    """Beam workers in other processes can run the user's preprocessing_fn (its module is pickled by
    value) and transform every row, with the same content as the in-memory run."""
    import tensorflow_transform as tft

    te = str(tmp_path / "te")
    args = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    result = run_transform(
        raw["examples"], raw["schema"], FRAUD_MODULE, str(tmp_path / "tg"), te, args, in_process_apply=False
    )
    assert result.rows == transformed["result"].rows
    spec = tft.TFTransformOutput(transformed["tg"]).transformed_feature_spec()
    for split in artifacts.SPLITS:
        assert _parsed_rows(te, split, spec) == _parsed_rows(transformed["te"], split, spec)


def _graph_constants(graph_dir: str) -> list[bytes]:
    """Every numeric constant of the transform graph (the analyzers' means, variances, quantile boundaries, ...)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    with open(os.path.join(graph_dir, "transform_fn", "saved_model.pb"), "rb") as f:
        saved = saved_model_pb2.SavedModel.FromString(f.read())
    out = []
    for graph in saved.meta_graphs:
        nodes = list(graph.graph_def.node) + [n for fn in graph.graph_def.library.function for n in fn.node_def]
        for node in nodes:
            tensor = node.attr["value"].tensor
            if node.op == "Const" and tensor.dtype != tf.string.as_datatype_enum:
                array = tf.make_ndarray(tensor)
                out.append(array.dtype.str.encode() + str(array.shape).encode() + array.tobytes())
    return sorted(out)


def test_local_source_gives_the_transform_graph_and_rows_of_the_tfrecord_beam_source(raw, transformed, tmp_path):
    """Old vs new: the analysis fed by tfx-bsl's TFRecord BeamSource (what kfx ran before, and still runs on a
    distributed runner) and by components/transform/source.py (local runners) give the same transform graph
    (vocabularies byte for byte, every numeric constant) and the same transformed examples record by record."""
    import apache_beam as beam
    import tensorflow as tf
    import tensorflow_transform.beam as tft_beam
    from tfx_bsl.tfxio import tf_example_record

    from components._shared.artifacts import transform_graph as tg_layout
    from components._shared.artifacts.schema import read_schema
    from components._shared.modules import load_module
    from components.transform.logic import BATCH_SIZE, apply_in_process

    schema = read_schema(raw["schema"])
    module = load_module(FRAUD_MODULE, required=("preprocessing_fn",))
    old_tg, old_te = str(tmp_path / "tg"), str(tmp_path / "te")
    files = {split: examples_layout.split_files(raw["examples"], split) for split in artifacts.SPLITS}
    with beam.Pipeline() as p, tft_beam.Context(temp_dir=str(tmp_path / "scratch")):
        tfxio = tf_example_record.TFExampleRecord(file_pattern=files["train"], schema=schema)
        data = (p | tfxio.BeamSource(batch_size=BATCH_SIZE), tfxio.TensorAdapterConfig())
        _ = data | tft_beam.AnalyzeDataset(module.preprocessing_fn) | tft_beam.WriteTransformFn(old_tg)
    tg_layout.write_raw_schema(old_tg, schema)
    apply_in_process(old_tg, files, old_te)

    assets = os.path.join("transform_fn", "assets")
    names = sorted(os.listdir(os.path.join(old_tg, assets)))
    assert names and names == sorted(os.listdir(os.path.join(transformed["tg"], assets)))
    for name in names:
        with (
            open(os.path.join(old_tg, assets, name), "rb") as a,
            open(os.path.join(transformed["tg"], assets, name), "rb") as b,
        ):
            assert a.read() == b.read(), name
    assert _graph_constants(old_tg) == _graph_constants(transformed["tg"])
    for split in artifacts.SPLITS:
        old = examples_layout.read_records(old_te, split)
        new = examples_layout.read_records(transformed["te"], split)
        assert len(old) == len(new) == transformed["result"].rows[split]
        assert [tf.train.Example.FromString(r) for r in old] == [tf.train.Example.FromString(r) for r in new]


def test_local_source_batches_are_the_decoded_shards_in_record_order(raw, tmp_path):
    """Several shards: the batches (columnar copies, or decoded when a copy is missing) are tfx-bsl's decoding of
    the shards read in record order, BATCH_SIZE rows each across shard boundaries, typed as TFExampleRecord's."""
    import pyarrow as pa
    from tfx_bsl.tfxio import tf_example_record

    from components._shared.artifacts.schema import read_schema
    from components.transform import source

    # the raw train split re-sharded (~16 KB shards), each shard with its columnar copy as ingest writes it
    examples = str(tmp_path / "examples")
    schema = read_schema(raw["schema"])
    with examples_writers.RecordShardWriter(examples, "train", shard_bytes=16 << 10) as writer:
        writer.write(examples_layout.read_records(raw["examples"], "train"))
    files = examples_layout.split_files(examples, "train")
    assert files == writer.files and len(files) >= 3
    for shard in files:
        batches = list(examples_layout.decode_batches([shard], schema))
        with pa.OSFile(examples_layout.columnar_path(shard), "wb") as sink:
            with pa.ipc.new_file(sink, batches[0].schema) as ipc:
                for batch in batches:
                    ipc.write_batch(batch)
    arrow_schema = tf_example_record.TFExampleRecord(file_pattern=files, schema=schema).ArrowSchema()
    expected = pa.Table.from_batches(list(examples_layout.decode_batches(files, schema))).select(arrow_schema.names)

    assert source.columnar_copies(examples, "train", arrow_schema) is not None
    from_copies = list(source.split_batches(examples, "train", schema, arrow_schema, 64))
    os.remove(examples_layout.columnar_path(files[1]))
    assert source.columnar_copies(examples, "train", arrow_schema) is None
    decoded = list(source.split_batches(examples, "train", schema, arrow_schema, 64))
    for batches in (from_copies, decoded):
        assert [b.num_rows for b in batches[:-1]] == [64] * (len(batches) - 1) and 0 < batches[-1].num_rows <= 64
        assert all(b.schema.equals(arrow_schema) for b in batches)
        assert pa.Table.from_batches(batches).equals(expected)


def test_in_process_apply_writes_bounded_shards_in_record_order(raw, transformed, tmp_path):
    """A large split is written as several shards (examples layout names, record order kept across them)."""
    import tensorflow as tf

    from components.transform.logic import apply_in_process

    files = {split: examples_layout.split_files(raw["examples"], split) for split in artifacts.SPLITS}
    rows = apply_in_process(transformed["tg"], files, str(tmp_path / "te"), shard_bytes=4 << 10)
    assert rows == transformed["result"].rows
    for split in artifacts.SPLITS:
        shards = examples_layout.split_files(str(tmp_path / "te"), split)
        assert len(shards) >= 2
        assert [os.path.basename(s) for s in shards] == [examples_layout.shard_name(i) for i in range(len(shards))]
        parsed = [tf.train.Example.FromString(r) for r in examples_layout.read_records(str(tmp_path / "te"), split)]
        assert parsed == [
            tf.train.Example.FromString(r) for r in examples_layout.read_records(transformed["te"], split)
        ]


#: z-scores (means, variances), quantile buckets and vocabularies: every kind of analyzer the taxi module uses
_ANALYZERS_MODULE = """
import tensorflow as tf
import tensorflow_transform as tft


def _dense(x, default):
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, tf.stack([x.dense_shape[0], tf.constant(1, tf.int64)])), default
        )
    return tf.reshape(x, [-1])


def preprocessing_fn(inputs):
    amount = tf.cast(_dense(inputs["amount"], tf.cast(0, inputs["amount"].dtype)), tf.float32)
    age = tf.cast(_dense(inputs["customer_age"], tf.cast(0, inputs["customer_age"].dtype)), tf.float32)
    return {
        "amount_z": tft.scale_to_z_score(amount),
        "amount_bucket": tft.bucketize(amount, 10),
        "age_bucket": tft.bucketize(age, 4),
        "merchant_xf": tft.compute_and_apply_vocabulary(_dense(inputs["merchant_category"], ""), top_k=5,
                                                       num_oov_buckets=1, vocab_filename="merchant"),
        "is_fraud": tf.cast(_dense(inputs["is_fraud"], tf.cast(0, inputs["is_fraud"].dtype)), tf.int64),
    }
"""


def test_default_local_runner_gives_the_graph_and_rows_of_the_direct_runner(raw, tmp_path, monkeypatch):
    """Old vs new: with no runner named the analysis runs on FnApiRunner directly (DirectRunner's own batch runner,
    without its PrismRunner attempt) with option views built once and DoFn methods inspected once per class
    (components/_shared/_compat/beam.py); before, on DirectRunner with a fresh view at every ask and every DoFn's
    methods inspected again. Same vocabularies byte for byte, same numeric constants (means,
    variances, quantile boundaries), same transformed records in the same order."""
    import tensorflow as tf
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.direct.direct_runner import DirectRunner
    from apache_beam.transforms import userstate

    from components.transform import logic

    module = tmp_path / "analyzers.py"
    module.write_text(_ANALYZERS_MODULE)

    def run(name: str, args: list[str]) -> tuple[str, str]:
        tg, te = str(tmp_path / name / "tg"), str(tmp_path / name / "te")
        run_transform(raw["examples"], raw["schema"], str(module), tg, te, args)
        return tg, te

    direct_runs = []
    direct_run = DirectRunner.run_pipeline
    monkeypatch.setattr(DirectRunner, "run_pipeline", lambda *a: direct_runs.append(1) or direct_run(*a))
    new_tg, new_te = run("new", [])
    assert direct_runs == [], "no runner named: DirectRunner (and its PrismRunner attempt) is not used"
    assert getattr(PipelineOptions.view_as, "_kfx_memoized", False)

    # the old path: DirectRunner, Beam's own view_as (a fresh parse at every ask) and get_dofn_specs
    monkeypatch.setattr(PipelineOptions, "view_as", PipelineOptions.view_as.__wrapped__)
    monkeypatch.setattr(userstate, "get_dofn_specs", userstate.get_dofn_specs.__wrapped__)
    monkeypatch.setattr(logic, "memoize_option_views", lambda: None)
    monkeypatch.setattr(logic, "memoize_dofn_method_specs", lambda: None)
    old_tg, old_te = run("old", ["--runner=DirectRunner"])
    assert direct_runs == [1] and not getattr(PipelineOptions.view_as, "_kfx_memoized", False)
    assert not getattr(userstate.get_dofn_specs, "_kfx_memoized", False)

    assets = os.path.join("transform_fn", "assets")
    names = sorted(os.listdir(os.path.join(old_tg, assets)))
    assert names == ["merchant"] and names == sorted(os.listdir(os.path.join(new_tg, assets)))
    for name in names:
        with open(os.path.join(old_tg, assets, name), "rb") as a, open(os.path.join(new_tg, assets, name), "rb") as b:
            assert a.read() == b.read(), name
    constants = _graph_constants(new_tg)
    assert len(constants) > 10 and _graph_constants(old_tg) == constants
    for split in artifacts.SPLITS:
        old = examples_layout.read_records(old_te, split)
        new = examples_layout.read_records(new_te, split)
        assert len(old) == len(new) > 0
        # equal record by record (a tf.Example's feature map may serialize its entries in another order)
        assert [tf.train.Example.FromString(r) for r in old] == [tf.train.Example.FromString(r) for r in new]
    assert tf.io.gfile.exists(os.path.join(new_tg, "transform_fn", "saved_model.pb"))
