"""What a module's ``build_model``/``run_fn`` gets (:class:`TrainArgs`) and the datasets it reads.

The module-file contract is documented in ``pipelines/modules/README.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from components._shared.artifacts import examples as examples_layout


@dataclass
class TrainArgs:
    """Everything a module's ``build_model``/``run_fn`` gets (TFX's FnArgs, kfx-sized)."""

    transformed_examples_dir: str
    transform_graph_dir: str
    model_dir: str
    serving_model_dir: str
    log_dir: str
    label_key: str
    task: str
    epochs: int  # the maximum: fit stops earlier when the eval loss stops improving (callbacks())
    batch_size: int  # already bounded by the data size (fit.effective_batch_size)
    learning_rate: float
    hidden_units: list[int]
    num_classes: int  # multiclass: given, or inferred from the label's vocabulary / values; binary 2; regression 0
    hyperparameters: dict[str, Any]
    seed: int
    raw_label_keys: list[str]
    tf_transform_output: Any  # tft.TFTransformOutput
    feature_keys: list[str]  # transformed features the model takes (label excluded)
    module: Any = None
    train_rows: int = 0
    eval_rows: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    patience: int = 2  # epochs without a 1% eval-loss improvement before fit stops
    #: what kfx's fit validated last: the eval metrics of the weights it ended with (fit.evaluate reuses them)
    validated: Any = field(default=None, repr=False)

    @property
    def output_units(self) -> int:
        return self.num_classes if self.task == "multiclass" else 1

    @property
    def output_activation(self) -> str | None:
        return {"binary": "sigmoid", "multiclass": "softmax", "regression": None}[self.task]

    def files(self, split: str) -> list[str]:
        return examples_layout.split_files(self.transformed_examples_dir, split)

    def dataset(self, split: str, shuffle: bool | None = None, repeat: bool = False):
        """(features, label) batches of one split of the transformed examples, model-ready shapes."""
        return make_dataset(self, split, shuffle=(split == "train") if shuffle is None else shuffle, repeat=repeat)

    def compile(self, model) -> None:
        from components.train.model import compile_model

        compile_model(model, self)

    def callbacks(self) -> list:
        """kfx's fit callbacks: early stopping on the eval loss (best weights restored) and TensorBoard logs."""
        from components.train.fit import callbacks

        return callbacks(self)

    def fit(self, model):
        """``model.fit`` on the train split, validated on eval, with :meth:`callbacks`; records ``history``."""
        from components.train.fit import fit

        return fit(model, self)

    def export(self, model) -> str:
        """Write ``model`` with kfx's raw-feature signatures to ``serving_model_dir``."""
        from components.train.export import export_model

        return export_model(model, self)


def to_model_inputs(features: dict, keys: Sequence[str]) -> dict:
    """Transformed features -> what the Keras model takes: dense, rank 2 ([batch, width])."""
    import tensorflow as tf

    out = {}
    for k in keys:
        t = features[k]
        if isinstance(t, tf.SparseTensor):
            default = "" if t.dtype == tf.string else tf.cast(0, t.dtype)
            t = tf.sparse.to_dense(t, default_value=default)
        if isinstance(t, tf.RaggedTensor):
            t = t.to_tensor()
        if t.shape.rank == 1:
            t = tf.expand_dims(t, -1)
        elif t.shape.rank is not None and t.shape.rank > 2:
            t = tf.reshape(t, [tf.shape(t)[0], -1])
        out[k] = t
    return out


def label_tensor(t, task: str):
    import tensorflow as tf

    if isinstance(t, tf.SparseTensor):
        t = tf.sparse.to_dense(t)
    t = tf.reshape(t, [-1])
    if task == "multiclass":
        return tf.cast(t, tf.int64)
    return tf.expand_dims(tf.cast(t, tf.float32), -1)


#: a split whose model inputs and label hold at most this many values is parsed once and batched from memory
#: (~8 bytes a value: 200 MB); a larger one is parsed batch by batch on every epoch, its memory bounded
IN_MEMORY_VALUES = 25_000_000


def _plain(fn):
    """``fn`` traced as written, not through AutoGraph: kfx's parse functions have no Python control flow on tensor
    values, so AutoGraph would only re-parse their source (and TFT's) to emit the same ops (~0.3 s per dataset)."""
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(fn)


def make_dataset(args: TrainArgs, split: str, shuffle: bool = False, repeat: bool = False, known_length: bool = False):
    """(features, label) batches of ``split``, shuffled with ``args.seed`` (train). Small splits of dense features are
    parsed once (:func:`_parsed_once`); the batches, their order and values are those of the streaming path.

    ``known_length``: the dataset declares its number of batches (from the split's row count; not with ``repeat``),
    which Keras needs to run several steps per call (kfx's fit: ``fit.STEPS_PER_EXECUTION``). Same batches. Keras
    iterates a dataset of unknown length until reading past its end fails, and that failed call of the train step
    still counts one optimizer step (Adam's ``iterations`` is not ordered after the failed read): from the second
    epoch on, Adam's bias correction runs one step ahead. A known length has no such phantom step."""
    import tensorflow as tf

    spec = args.tf_transform_output.transformed_feature_spec()
    keys = list(args.feature_keys)

    @_plain
    def parse(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        label = label_tensor(parsed[args.label_key], args.task)
        return to_model_inputs(parsed, keys), label

    rows = args.train_rows if split == "train" else args.eval_rows
    parsed = _parsed_once(args.files(split), parse) if _fits_in_memory(spec, [*keys, args.label_key], rows) else None
    if parsed is not None:  # row numbers, shuffled exactly as the records would be (below)
        rows = int(parsed[1].shape[0])
        ds = tf.data.Dataset.range(rows)
    else:
        ds = tf.data.TFRecordDataset(args.files(split))
    if shuffle:  # tf.data's shuffle order depends on the seed and the element count only, not on the elements
        ds = ds.shuffle(min(10_000, max(args.train_rows, 1)), seed=args.seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(args.batch_size)
    if parsed is not None:
        features, label = parsed
        # of unknown length like the TFRecordDataset's batches: Keras' fit iterates a dataset of known length
        # differently (another shuffle from the second epoch on)
        ds = ds.filter(_plain(lambda i: True)).map(
            _plain(lambda i: (tf.nest.map_structure(lambda t: tf.gather(t, i), features), tf.gather(label, i)))
        )
    else:
        ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    if known_length and not repeat and rows > 0:
        ds = ds.apply(tf.data.experimental.assert_cardinality(-(-rows // args.batch_size)))
    return ds.prefetch(tf.data.AUTOTUNE)


def _fits_in_memory(spec: dict, keys: list[str], rows: int) -> bool:
    """Whether a split of ``rows`` rows is parsed once: every column dense (fixed length) and few enough values."""
    import math

    import tensorflow as tf

    if rows <= 0 or not all(isinstance(spec[k], tf.io.FixedLenFeature) for k in keys):
        return False
    return rows * sum(max(1, math.prod(spec[k].shape)) for k in keys) <= IN_MEMORY_VALUES


def _parsed_once(files: list[str], parse):
    """Every record of ``files`` parsed (in record order) by ``parse``: one tensor per model input, and the label."""
    import tensorflow as tf

    parts = list(tf.data.TFRecordDataset(files).batch(8192).map(parse))
    if not parts:
        return None  # no records: the streaming path (an empty split)
    features = {k: tf.concat([p[0][k] for p in parts], axis=0) for k in parts[0][0]}
    return features, tf.concat([p[1] for p in parts], axis=0)
