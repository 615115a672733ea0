"""Ingest: CSV -> tf.Example TFRecords (train/eval)."""
