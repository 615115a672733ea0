"""Schema: infer from train statistics or import the curated fraud schema; the view; clear errors."""

from __future__ import annotations

import os

import pytest

from components._shared import artifacts  # first: components/__init__ sets the TF env before TensorFlow loads
from components._shared.artifacts.schema import schema_path
from components.datagen.fraud import write_csv
from components.ingest.logic import ingest_csv
from components.schema.logic import SchemaError, load_schema, make_schema, read_schema
from components.statistics.logic import compute_statistics, load_statistics

pytestmark = pytest.mark.unit

FRAUD_SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "pipelines", "schemas", "fraud.pbtxt")


def _stats(root, name: str, drift: bool, seed: int, rows: int = 1200) -> str:
    csv = write_csv(str(root / f"{name}.csv"), rows, seed=seed, drift=drift)
    ingest_csv(csv, str(root / f"{name}_ex"))
    compute_statistics(str(root / f"{name}_ex"), str(root / f"{name}_st"))
    return str(root / f"{name}_st")


@pytest.fixture(scope="module")
def fraud_stats(tmp_path_factory):
    root = tmp_path_factory.mktemp("schema")
    return {"clean": _stats(root, "clean", False, 1), "drift": _stats(root, "drift", True, 2)}


def _anomalies(stats, schema, environment=None):
    import tensorflow_data_validation as tfdv

    result = tfdv.validate_statistics(stats, schema, environment=environment)
    return {name: {r.type for r in info.reason} for name, info in result.anomaly_info.items()}


def test_infer_writes_schema_and_view(fraud_stats, tmp_path):
    view = str(tmp_path / "view.md")
    schema = make_schema(fraud_stats["clean"], str(tmp_path / "schema"), view_path=view)
    assert read_schema(str(tmp_path / "schema")) == schema
    assert os.path.exists(schema_path(str(tmp_path / "schema")))
    names = {f.name for f in schema.feature}
    assert {"amount", "merchant_category", "is_fraud", "device_type"} <= names
    text = open(view).read()
    assert "| feature | type | presence | values | domain |" in text
    assert "| `channel` | BYTES | required | [1] | one of `atm`, `online`, `pos` |" in text
    assert "| `device_type` | BYTES | optional |" in text
    # the inferred schema accepts the statistics it came from
    assert _anomalies(load_statistics(fraud_stats["clean"], "eval"), schema) == {}


def test_curated_fraud_schema_accepts_clean_data_and_rejects_drift(fraud_stats, tmp_path):
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    view = str(tmp_path / "view.md")
    schema = make_schema(fraud_stats["clean"], str(tmp_path / "s"), view_path=view, schema_uri=FRAUD_SCHEMA)
    assert schema == load_schema(FRAUD_SCHEMA)
    assert "imported from" in open(view).read() and "int in [0, 23]" in open(view).read()
    for split in artifacts.SPLITS:
        assert _anomalies(load_statistics(fraud_stats["clean"], split), schema) == {}, split
    drifted = _anomalies(load_statistics(fraud_stats["drift"], "eval"), schema)
    unexpected = anomalies_pb2.AnomalyInfo.ENUM_TYPE_UNEXPECTED_STRING_VALUES
    assert unexpected in drifted["merchant_category"] and unexpected in drifted["country"]
    # the label is required in training; serving data comes without it
    label = next(f for f in schema.feature if f.name == "is_fraud")
    assert label.presence.min_fraction == 1.0 and list(label.not_in_environment) == ["SERVING"]


def test_bad_schema_files_are_clear_errors(fraud_stats, tmp_path):
    broken = tmp_path / "broken.pbtxt"
    broken.write_text('feature { name: "a" type: NOT_A_TYPE }\n')
    with pytest.raises(SchemaError, match=r"broken.pbtxt is not a valid text-format Schema"):
        make_schema(fraud_stats["clean"], str(tmp_path / "out"), schema_uri=str(broken))
    with pytest.raises(SchemaError, match="does not exist"):
        make_schema(fraud_stats["clean"], str(tmp_path / "out"), schema_uri=str(tmp_path / "nope.pbtxt"))
    empty = tmp_path / "empty.pbtxt"
    empty.write_text("# nothing\n")
    with pytest.raises(SchemaError, match="declares no features"):
        make_schema(fraud_stats["clean"], str(tmp_path / "out"), schema_uri=str(empty))
    with pytest.raises(SchemaError, match="no train statistics"):
        make_schema(str(tmp_path), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_schema_uri_via_gfile(fraud_stats, tmp_path):
    import tensorflow as tf

    uri = "ram://kfx-schema-test/fraud.pbtxt"
    tf.io.gfile.makedirs("ram://kfx-schema-test")
    tf.io.gfile.copy(FRAUD_SCHEMA, uri, overwrite=True)
    schema = make_schema(fraud_stats["clean"], str(tmp_path / "s"), schema_uri=uri)
    assert len(schema.feature) == 14


def test_columns_missing_only_in_eval_stay_optional(taxi_csv, tmp_path):
    """Issue 7: pickup_* are in every train row and missing in two eval rows: the inferred schema keeps them
    optional (no fixed shape), so Transform parses them as sparse and validate finds nothing to report."""
    import tensorflow_data_validation as tfdv

    from components.schema.presence import requires_presence
    from tests.testdata.optional_columns import PICKUP, taxi_subset

    dirs = taxi_subset(taxi_csv, str(tmp_path))
    schema = make_schema(dirs["statistics"], str(tmp_path / "schema"))
    features = {f.name: f for f in schema.feature}
    for name in PICKUP:
        assert not requires_presence(features[name]), features[name]
    assert requires_presence(features["fare"])  # present everywhere: still required
    eval_stats = load_statistics(dirs["statistics"], "eval")
    assert not set(PICKUP) & set(_anomalies(eval_stats, schema))
    # train-only inference (what kfx did before) requires them, and TFDV flags the eval rows
    train_only = tfdv.infer_schema(load_statistics(dirs["statistics"], "train"))
    assert set(PICKUP) <= set(_anomalies(eval_stats, train_only))


PENGUINS_SCHEMA = os.path.join(os.path.dirname(FRAUD_SCHEMA), "penguins.pbtxt")


def test_tightened_schema_catches_one_out_of_range_value(tmp_path):
    """Issue 7: one flipper of 999 mm among 400 rows. The inferred schema has no range and lets it through; the
    tightened curated schema (pipelines/schemas/penguins.pbtxt) makes validate report it, named, with its split."""
    from components.validate.logic import validate
    from tests.testdata.penguins import write_csv

    clean = write_csv(str(tmp_path / "clean.csv"), 400, seed=3)
    lines = open(clean).read().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("flipper_length_mm")] = "999"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")

    results = {}
    for name, csv in (("clean", clean), ("bad", str(bad))):
        ingest_csv(csv, str(tmp_path / f"{name}_ex"))
        compute_statistics(str(tmp_path / f"{name}_ex"), str(tmp_path / f"{name}_st"))
        results[name] = validate(
            str(tmp_path / f"{name}_st"), PENGUINS_SCHEMA, str(tmp_path / f"{name}_an"), label_key="species",
        )  # fmt: skip
    assert results["clean"].findings == []
    flagged = [f for f in results["bad"].findings if f.feature == "flipper_length_mm"]
    assert flagged and flagged[0].kind.startswith("INT_TYPE_BIG_INT"), results["bad"].findings
    assert {f.feature for f in results["bad"].findings} == {"flipper_length_mm"}

    inferred = make_schema(str(tmp_path / "bad_st"), str(tmp_path / "inferred"))
    assert not any(f.HasField("int_domain") for f in inferred.feature if f.name == "flipper_length_mm")


def test_relax_presence_only_touches_required_columns_seen_missing():
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from components.schema.presence import relax_presence, requires_presence

    schema = text_format.Parse(
        """
        feature { name: "a" type: FLOAT presence { min_fraction: 1 min_count: 1 } shape { dim { size: 1 } } }
        feature { name: "b" type: FLOAT presence { min_fraction: 1 min_count: 1 } shape { dim { size: 1 } } }
        feature { name: "c" type: BYTES presence { min_count: 1 } value_count { min: 1 max: 1 } }
        """,
        schema_pb2.Schema(),
    )
    assert relax_presence(schema, {"a", "c"}) == ["a"]
    a, b, c = schema.feature
    assert not requires_presence(a) and not a.HasField("shape") and a.presence.min_count == 1
    assert requires_presence(b) and not requires_presence(c) and c.value_count.max == 1
