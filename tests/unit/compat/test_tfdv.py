"""_compat.tfdv: streaming statistics through TFDV's internal generators equal TFDV's public in-memory API, and the
streaming path is the one taken (a TFDV upgrade that moves ``stats_impl`` fails here, loudly)."""

from __future__ import annotations

import pytest

import components  # noqa: F401  (TF env before TensorFlow loads)
from components._shared._compat import tfdv as compat_tfdv

pytestmark = pytest.mark.unit


def test_checked_version_is_the_installed_one():
    import tensorflow_data_validation as tfdv

    assert tfdv.__version__ == compat_tfdv.CHECKED_VERSION, (
        f"TFDV is {tfdv.__version__}, components/_shared/_compat/tfdv.py was checked with "
        f"{compat_tfdv.CHECKED_VERSION}: re-check stats_impl.get_generators/extract_statistics_output, then bump it"
    )


def test_streamed_batches_equal_the_public_whole_frame_statistics():
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import tensorflow_data_validation as tfdv
    from google.protobuf import json_format

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=3000),
            "n": rng.integers(0, 9, 3000),
            "c": rng.choice(["a", "b", "c"], 3000).astype(object),
        }
    )
    options = tfdv.StatsOptions(use_sketch_based_topk_uniques=True)
    public = tfdv.generate_statistics_from_dataframe(df, options, n_jobs=1)

    batch = pa.RecordBatch.from_arrays(
        [pa.array([[v] for v in df[c].tolist()]) for c in df.columns], names=list(df.columns)
    )
    compat_tfdv.last_path = ""
    streamed, rows = compat_tfdv.streaming_statistics([batch], options)
    assert compat_tfdv.last_path == compat_tfdv.PATH_STREAMING
    assert rows == 3000
    assert json_format.MessageToDict(public) == json_format.MessageToDict(streamed)
    # in several batches: the same counts (quantile sketches and float sums may differ in the last bits)
    chunked, rows = compat_tfdv.streaming_statistics([batch.slice(0, 1000), batch.slice(1000)], options)
    assert rows == 3000 and chunked.datasets[0].num_examples == 3000
    means = {f.path.step[0]: f.num_stats.mean for f in chunked.datasets[0].features if f.HasField("num_stats")}
    assert means == pytest.approx({"x": df["x"].mean(), "n": df["n"].mean()}, rel=1e-9)


def test_a_missing_internal_fails_loudly(monkeypatch):
    from tensorflow_data_validation.statistics import stats_impl

    monkeypatch.delattr(stats_impl, "get_generators")
    with pytest.raises(compat_tfdv.TfdvInternalsError, match="re-check components/_shared/_compat/tfdv.py"):
        compat_tfdv.streaming_statistics([], None)
