"""KFP wrapper of ingest: CSV (local path or gfile URI) -> examples (tf.Example TFRecords, train/eval)."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from components._shared.image import runtime_image


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def ingest(data_uri: str, examples: Output[Dataset], eval_fraction: float = 0.2, seed: int = 0) -> None:
    """Ingest a CSV (streamed in bounded chunks) into sharded tf.Example TFRecords, hash-split into train/eval."""
    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components._shared.kinds import stamp_outputs
    from components.ingest.logic import ingest_csv

    result = ingest_csv(data_uri, examples.path, eval_fraction=eval_fraction, seed=seed)
    stamp_outputs("ingest", examples=examples)
    examples.metadata["rows"] = result.rows
    for split, rows in result.splits.items():
        examples.metadata[f"rows_{split}"] = rows
    examples.metadata["columns"] = len(result.columns)
    examples.metadata["source"] = data_uri
    examples.metadata["source_sha256"] = result.source_sha256
