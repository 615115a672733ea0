"""The raw examples the transform step feeds TF Transform on a local runner: bounded, in record order.

On Beam's local DirectRunner the TFRecord source (``TFExampleRecord.BeamSource``: one ``ReadFromTFRecord`` per
shard, flattened) holds a multi-shard split in memory (the step's peak grew with the table: 3.3 GB at 1.5M taxi rows), and reads the shards in an order that changes from run to run. Here one DoFn reads the split's shards and yields ``BATCH_SIZE``-row Arrow RecordBatches,
fused with TFT's analysis, so only one batch (plus the analyzers' accumulators) is held at a time. The batches are
the ones tfx-bsl decodes from the shards (same columns, types, values and order): read from ingest's columnar
copies when every shard has one and their columns are those the decoder gives, else decoded from the TFRecords by
tfx-bsl's batch decoder. A distributed runner keeps tfx-bsl's ``BeamSource`` (splittable, read in parallel).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from components._shared.artifacts import examples as examples_layout

if TYPE_CHECKING:
    import pyarrow as pa
    from tensorflow_metadata.proto.v0 import schema_pb2


def columnar_copies(examples_dir: str, split: str, arrow_schema: pa.Schema) -> list[str] | None:
    """The split's columnar copies when every shard has one holding ``arrow_schema``'s columns with its types."""
    import pyarrow as pa
    import tensorflow as tf

    copies = examples_layout.columnar_files(examples_dir, split)
    if not copies:
        return None
    if "://" not in copies[0]:
        with pa.memory_map(copies[0]) as f:
            found = pa.ipc.open_file(f).schema
    else:  # one shard's copy (tens of MB), once
        with tf.io.gfile.GFile(copies[0], "rb") as f:
            found = pa.ipc.open_file(pa.BufferReader(f.read())).schema
    for field in arrow_schema:
        i = found.get_field_index(field.name)
        if i < 0 or found.field(i).type != field.type:
            return None
    return copies


def split_batches(
    examples_dir: str, split: str, schema: schema_pb2.Schema, arrow_schema: pa.Schema, batch_size: int
) -> Iterator[pa.RecordBatch]:
    """A split's rows as RecordBatches of ``batch_size`` rows (the last one shorter), columns as ``arrow_schema``."""
    names = list(arrow_schema.names)
    copies = columnar_copies(examples_dir, split, arrow_schema)
    if copies:
        yield from examples_layout.read_columnar(copies, batch_size, names)
        return
    for batch in examples_layout.decode_batches(examples_layout.split_files(examples_dir, split), schema, batch_size):
        yield batch.select(names) if batch.schema.names != names else batch


def read_split(pipeline, examples_dir: str, split: str, schema: schema_pb2.Schema, batch_size: int):
    """``(PCollection of RecordBatches, TensorAdapterConfig)`` of one split for TFT, read by one DoFn."""
    import apache_beam as beam
    from tfx_bsl.tfxio import tf_example_record

    tfxio = tf_example_record.TFExampleRecord(
        file_pattern=examples_layout.split_files(examples_dir, split),
        schema=schema,
        telemetry_descriptors=["kfx", "transform"],
    )
    arrow_schema = tfxio.ArrowSchema()
    serialized = schema.SerializeToString()

    def read(directory: str) -> Iterator[pa.RecordBatch]:
        from tensorflow_metadata.proto.v0 import schema_pb2 as pb

        yield from split_batches(directory, split, pb.Schema.FromString(serialized), arrow_schema, batch_size)

    batches = (
        pipeline | f"List{split}" >> beam.Create([examples_dir], reshuffle=False) | f"Read{split}" >> beam.FlatMap(read)
    )
    return batches, tfxio.TensorAdapterConfig()
