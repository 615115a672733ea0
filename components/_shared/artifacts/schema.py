"""The schema artifact (kind ``schema``): its layout, and the one reader/writer of schemas in kfx.

Layout::

    <dir>/schema.pbtxt        tensorflow_metadata Schema, text proto

:func:`parse_schema_text` parses schema text (no TensorFlow: the preflight checks use it); :func:`load_schema` parses a schema *file* (a curated ``.pbtxt``, local or any gfile URI); :func:`read_schema`
reads a schema *artifact* (a directory, or the file itself); :func:`write_schema` writes one. Every error is a
:class:`SchemaError` naming the file and what is wrong.
"""

from __future__ import annotations

import os

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components._shared.artifacts import register_filesystem

SCHEMA_FILE = "schema.pbtxt"
__all__ = [
    "SCHEMA_FILE",
    "SchemaError",
    "load_schema",
    "parse_schema_text",
    "read_schema",
    "schema_path",
    "write_schema",
]


class SchemaError(ValueError):
    """A schema is missing, does not parse, or declares no features."""


def schema_path(schema_dir: str) -> str:
    """``<schema_dir>/schema.pbtxt``."""
    return os.path.join(schema_dir, SCHEMA_FILE)


def parse_schema_text(text: str, source: str) -> schema_pb2.Schema:
    """A Schema from its text format; SchemaError naming ``source`` when it does not parse or declares nothing."""
    schema = schema_pb2.Schema()
    try:
        text_format.Parse(text, schema)
    except text_format.ParseError as e:
        raise SchemaError(f"schema file {source} is not a valid text-format Schema: {e}") from e
    if not schema.feature:
        raise SchemaError(f"schema file {source} declares no features")
    return schema


def load_schema(schema_uri: str) -> schema_pb2.Schema:
    """Parse a text-format schema file (local path or ``tf.io.gfile`` URI); SchemaError naming the file if not."""
    import tensorflow as tf

    register_filesystem(schema_uri)
    if not tf.io.gfile.exists(schema_uri) or tf.io.gfile.isdir(schema_uri):
        raise SchemaError(f"schema file {schema_uri} does not exist")
    with tf.io.gfile.GFile(schema_uri, "r") as f:
        return parse_schema_text(f.read(), schema_uri)


def read_schema(schema_dir: str) -> schema_pb2.Schema:
    """The schema of a schema artifact (``<schema_dir>/schema.pbtxt``; ``schema_dir`` may be the file itself)."""
    import tensorflow as tf

    register_filesystem(schema_dir)
    if tf.io.gfile.exists(schema_dir) and not tf.io.gfile.isdir(schema_dir):
        return load_schema(schema_dir)
    path = schema_path(schema_dir)
    if not tf.io.gfile.exists(path):
        raise SchemaError(f"schema artifact {schema_dir} has no {SCHEMA_FILE} (expected {path})")
    return load_schema(path)


def write_schema(schema: schema_pb2.Schema, schema_dir: str) -> str:
    """Write ``<schema_dir>/schema.pbtxt``; returns its path."""
    import tensorflow as tf

    tf.io.gfile.makedirs(schema_dir)
    path = schema_path(schema_dir)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text_format.MessageToString(schema))
    return path
