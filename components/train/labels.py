"""The label: which raw columns are labels (never serving inputs), and how many classes a multiclass label has.

One source for the raw label: the pipeline's ``raw_label_key`` (given to train, or recorded by transform in the
transform graph). The module's ``RAW_LABEL_KEYS`` is optional; when both are given they must agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class LabelError(ValueError):
    """The label settings contradict each other or the data."""


def raw_label_keys(
    raw_label_key: str, recorded: Sequence[str], module_keys: Sequence[str] | None, label_key: str, raw_spec: dict
) -> list[str]:
    """The raw columns kept out of the serving signatures.

    Args:
      raw_label_key: the pipeline's raw label column given to train ("" when not given).
      recorded: raw label keys the transform step recorded (its ``raw_label_key``).
      module_keys: the module's ``RAW_LABEL_KEYS`` (None when it does not define them).
      label_key: the transformed label (kept out too when it is also a raw column).
      raw_spec: the raw feature spec (every key must be one of its columns).
    """
    given = [k for k in dict.fromkeys([raw_label_key, *recorded]) if k]
    if len(given) > 1:
        raise LabelError(
            f"raw_label_key '{raw_label_key}' given to train differs from '{recorded[0]}' given to transform: "
            "pass the same raw label column to both"
        )
    module = list(module_keys or [])
    if given and module and given[0] not in module:
        raise LabelError(
            f"raw_label_key '{given[0]}' is not in the module's RAW_LABEL_KEYS {module}: the pipeline and the module "
            "disagree on the label column (fix one; RAW_LABEL_KEYS is optional when raw_label_key is given)"
        )
    keys = module or given or ([label_key] if label_key in raw_spec else [])
    unknown = [k for k in keys if k not in raw_spec]
    if unknown:
        raise LabelError(f"raw label keys {unknown} are not raw features (columns: {', '.join(sorted(raw_spec))})")
    return keys


def _domain_classes(tft_output: Any, label_key: str) -> int | None:
    """Classes of a label with a vocabulary domain (``tft.compute_and_apply_vocabulary``), else None."""
    for f in tft_output.transformed_metadata.schema.feature:
        if f.name == label_key and f.HasField("int_domain") and f.int_domain.HasField("max"):
            return int(f.int_domain.max) + 1
    return None


def label_range(files: Sequence[str], label_key: str, spec: Any) -> tuple[int, int, int]:
    """(min, max, rows) of an integer label over transformed examples (reads the label column only)."""
    import tensorflow as tf

    lo, hi, n = None, None, 0
    ds = tf.data.TFRecordDataset(list(files)).batch(4096)
    for batch in ds.map(lambda s: tf.io.parse_example(s, {label_key: spec})[label_key]):
        values = batch.values if isinstance(batch, tf.SparseTensor) else tf.reshape(batch, [-1])
        if tf.size(values) == 0:
            continue
        b_lo, b_hi = int(tf.reduce_min(values)), int(tf.reduce_max(values))
        lo = b_lo if lo is None else min(lo, b_lo)
        hi = b_hi if hi is None else max(hi, b_hi)
        n += int(tf.size(values))
    if lo is None:
        raise LabelError(f"label '{label_key}' has no values in {files[0]}...")
    return lo, hi, n


def num_classes(tft_output: Any, label_key: str, files: Sequence[str], given: int = 0) -> int:
    """The number of classes of a multiclass label: ``given`` checked against the data, or inferred.

    Inferred from the label's vocabulary (its transformed domain) when it has one, else from its values (max + 1).
    A given value must cover every label value in the data, and not exceed the vocabulary's size.
    """

    spec = tft_output.transformed_feature_spec()[label_key]
    if not spec.dtype.is_integer:
        raise LabelError(
            f"multiclass label '{label_key}' is {spec.dtype.name}: preprocessing_fn must output class ids "
            "(int64 0..k-1), e.g. tft.compute_and_apply_vocabulary(raw_label)"
        )
    lo, hi, _ = label_range(files, label_key, spec)
    if lo < 0:
        raise LabelError(
            f"label '{label_key}' has the value {lo}: class ids must be 0..k-1 (TFT gives -1 to a missing or "
            "out-of-vocabulary label; drop those rows or give the label num_oov_buckets)"
        )
    domain = _domain_classes(tft_output, label_key)
    inferred = domain or hi + 1
    if not given:
        if inferred < 2:
            raise LabelError(f"label '{label_key}' has a single class ({hi}) in the data: nothing to classify")
        return inferred
    if given < hi + 1:
        raise LabelError(
            f"num_classes={given} but label '{label_key}' takes values up to {hi} ({hi + 1} classes) in the data: "
            f"pass num_classes={inferred} or leave it 0 to infer it"
        )
    if domain and given > domain:
        raise LabelError(
            f"num_classes={given} but the vocabulary of label '{label_key}' has {domain} classes: "
            f"pass num_classes={domain} or leave it 0 to infer it"
        )
    return given


def class_names(tft_output: Any, names: Sequence[str], num_classes: int) -> list[str]:
    """The class names of a multiclass label whose ids come from a vocabulary named after the label or its raw
    column (``tft.compute_and_apply_vocabulary(..., vocab_filename=...)``): id i is the i-th entry. [] otherwise."""
    for name in names:
        try:
            vocab = tft_output.vocabulary_by_name(name)
        except (ValueError, OSError, KeyError):  # no vocabulary of that name
            continue
        if len(vocab) == num_classes:
            return [v.decode() if isinstance(v, bytes) else str(v) for v in vocab]
    return []
