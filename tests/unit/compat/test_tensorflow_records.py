"""The fenced TFRecord fast reader: the same records as tf.data, in order, without the deprecation warning."""

import logging

import pytest

import components  # noqa: F401  (TF env before TensorFlow loads)
from components._shared._compat.tensorflow import tf_record_iterator

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("compressed", [False, True])
def test_reads_what_tf_data_reads(tmp_path, caplog, compressed):
    import tensorflow as tf

    path = str(tmp_path / ("r.tfrecord.gz" if compressed else "r.tfrecord"))
    options = tf.io.TFRecordOptions("GZIP") if compressed else None
    records = [f"record-{i}".encode() * (i + 1) for i in range(50)]
    with tf.io.TFRecordWriter(path, options) as w:
        for r in records:
            w.write(r)
    expected = list(tf.data.TFRecordDataset(path, "GZIP" if compressed else None).as_numpy_iterator())
    with caplog.at_level(logging.WARNING):
        got = list(tf_record_iterator(path, options))
    assert got == expected == records
    assert "deprecat" not in caplog.text.lower()
