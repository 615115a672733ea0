"""How kfx fits a model: batch size bounded by the data size, early stopping on the eval loss, final eval metrics.

Defaults that work on 200 rows and on 200,000 alike: ``epochs`` is a *maximum* (fit stops when the eval loss has
not improved by more than 1% of its best for ``patience`` epochs, and keeps the best epoch's weights), and the batch is at most ``train_rows / 20`` (but
at least 16) so that even a small table gets ≥ 20 gradient steps per epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from components._shared._compat.keras import (
    is_compiled,
    restore_steps_per_execution,
    set_steps_per_execution,
    steps_per_execution,
)
from components._shared.log import get_logger, timed
from components.train.args import TrainArgs, make_dataset
from components.train.model import compile_model

log = get_logger("train")

MIN_STEPS_PER_EPOCH = 20
MIN_BATCH_SIZE = 16
#: an epoch "improves" when it lowers the best eval loss by more than this fraction of it
MIN_RELATIVE_IMPROVEMENT = 0.01
#: train steps per call of Keras' train function in kfx's fit (one Python round trip per 64 steps, not per step);
#: the same updates as one step per call (``tests/unit/test_train.py::test_steps_per_execution_trains_identically``)
STEPS_PER_EXECUTION = 64
#: ... when the fit plans at least this many steps: tracing the multi-step loop costs ~1 CPU-s more than one step,
#: and saves ~0.5-1 ms a step (the taxi model on 2 cores: +0.9 CPU-s at 235 steps, -1.3 CPU-s at 2,350 steps)
MULTI_STEP_MIN_STEPS = 1_000


@dataclass
class TrainResult:
    loss: float
    metrics: dict[str, float] = field(default_factory=dict)  # eval split metrics (binary: auc, accuracy, ...)
    train_rows: int = 0
    eval_rows: int = 0
    seconds: float = 0.0
    epochs_run: int = 0
    batch_size: int = 0
    lineage: dict[str, str | int | float] = field(default_factory=dict)  # what lineage.json holds


def effective_batch_size(batch_size: int, train_rows: int) -> int:
    """``batch_size``, lowered for small data to give ≥ MIN_STEPS_PER_EPOCH steps per epoch (never below 16)."""
    if train_rows <= 0:
        return batch_size
    return max(1, min(batch_size, max(MIN_BATCH_SIZE, train_rows // MIN_STEPS_PER_EPOCH)))


_CALLBACKS: dict = {}


def _stop_on_plateau_class():
    """Keras' EarlyStopping takes an absolute ``min_delta``, which means nothing across losses of different scales
    (a regression in grams or in kilograms); this one asks for a *relative* improvement."""
    if not _CALLBACKS:
        import tensorflow as tf

        class StopOnPlateau(tf.keras.callbacks.Callback):
            """Stop when the eval loss has not improved by > ``rel`` of its best for ``patience`` epochs; restore
            the best epoch's weights."""

            def __init__(self, patience: int, rel: float = MIN_RELATIVE_IMPROVEMENT):
                super().__init__()
                self.patience, self.rel = patience, rel
                self.best, self.best_weights, self.wait, self.best_epoch = float("inf"), None, 0, -1

            def on_epoch_end(self, epoch, logs=None):
                loss = (logs or {}).get("val_loss")
                if loss is None:
                    return
                if loss < self.best - self.rel * abs(self.best) or self.best_weights is None:
                    self.best, self.best_weights, self.wait, self.best_epoch = loss, self.model.get_weights(), 0, epoch
                    return
                self.wait += 1
                if self.wait >= self.patience:
                    self.model.stop_training = True

            def on_train_end(self, logs=None):
                if self.best_weights is not None:
                    self.model.set_weights(self.best_weights)

        _CALLBACKS["StopOnPlateau"] = StopOnPlateau
    return _CALLBACKS["StopOnPlateau"]


def callbacks(args: TrainArgs) -> list:
    """Early stopping on the eval loss (best weights restored) + TensorBoard logs in ``args.log_dir``."""
    import tensorflow as tf

    return [
        _stop_on_plateau_class()(patience=args.patience),
        tf.keras.callbacks.TensorBoard(log_dir=args.log_dir, update_freq="epoch"),
    ]


def build_optimizer(model) -> bool:
    """Create the optimizer's slot variables (Adam's m and v: zeros) before ``fit`` instead of in its first step.

    Created inside the first call of Keras' ``train_function``, they make ``tf.function`` trace the whole train step
    twice (once allowing variable creation, once not): ~2 s of the first epoch. Created here, the step is traced
    once. Same initial values (zeros), same updates: the trained weights are identical (``tests/unit/test_train.py``).
    Only for a built model and an optimizer with ``build`` (tf-keras' optimizers; legacy ones are left alone).
    Returns whether it built them."""
    build = getattr(model.optimizer, "build", None)
    if not callable(build) or not model.built or not model.trainable_variables:
        return False
    build(model.trainable_variables)
    return True


def fit(model, args: TrainArgs):
    """Compile (if the module did not), fit on train with eval as validation data, record ``args.history``."""
    if not is_compiled(model):
        compile_model(model, args)
    build_optimizer(model)
    what = f"fitting {model.name} ({args.task}, label {args.label_key}) for at most {args.epochs} epochs"
    fit_callbacks = args.callbacks()
    # several steps per call need datasets of known length (the row counts transform recorded), which changes one
    # thing: no phantom optimizer step after the first epoch (args.make_dataset); small fits keep one step a call
    steps, rows_known = steps_per_execution(model), args.train_rows > 0 and args.eval_rows > 0
    planned = -(-args.train_rows // args.batch_size) * args.epochs
    multi = rows_known and steps == 1 and planned >= MULTI_STEP_MIN_STEPS
    multi = multi and set_steps_per_execution(model, STEPS_PER_EXECUTION)
    known = rows_known and (multi or steps > 1)
    try:
        with timed(
            log, what + f", batch {args.batch_size}, {STEPS_PER_EXECUTION if multi else steps} step(s) a call"
        ) as t:
            history = model.fit(
                make_dataset(args, "train", shuffle=True, known_length=known),
                validation_data=make_dataset(args, "eval", known_length=known),
                epochs=args.epochs,
                callbacks=fit_callbacks,
                verbose=0,
            )
            args.history = {k: [float(v) for v in vs] for k, vs in history.history.items()}
            t["rows"] = args.train_rows * len(args.history.get("loss", []))
    finally:
        if multi:  # back to what the module compiled: later fit/evaluate calls on datasets of unknown length work
            restore_steps_per_execution(model, steps)
    args.validated = _validated(model, args, fit_callbacks)
    log.info("stopped after %d epochs (max %d)", len(args.history.get("loss", [])), args.epochs)
    return history


@dataclass
class Validated:
    """The eval-split loss/metrics fit's validation computed for the weights fit ended with."""

    model: Any
    compiled: tuple  # the compiled loss and metrics containers they were computed with
    batch_size: int
    weights: list  # numpy copies of the weights
    values: dict[str, float]  # as ``model.evaluate(..., return_dict=True)`` gives them: loss, then the metrics


def _validated(model, args: TrainArgs, fit_callbacks: list) -> Validated | None:
    """The validation of the weights fit ended with: the epoch :class:`StopOnPlateau` kept (it restores that
    epoch's weights, taken right after its validation, at the end of fit). None without a validation loss."""
    stopper = next((c for c in fit_callbacks if isinstance(c, _stop_on_plateau_class())), None)
    val = {k[len("val_") :]: v for k, v in args.history.items() if k.startswith("val_")}
    if stopper is None or stopper.best_weights is None or not val.get("loss"):
        return None
    return Validated(
        model=model,
        compiled=(model.compiled_loss, model.compiled_metrics),
        batch_size=args.batch_size,
        weights=model.get_weights(),
        values={k: v[stopper.best_epoch] for k, v in val.items()},
    )


def _reusable(model, args: TrainArgs) -> dict[str, float] | None:
    """fit's validation of ``model`` when it still holds: same model, compile, batch size and weights (bit for bit).

    Keras' validation in fit is ``model.evaluate`` on the same eval dataset with the same test function, so
    evaluating those weights again gives the same numbers
    (``tests/unit/test_train.py::test_final_evaluation_reuses_the_validation_of_the_same_weights``)."""
    import numpy as np

    v = args.validated
    if v is None or v.model is not model or v.batch_size != args.batch_size:
        return None
    if any(a is not b for a, b in zip(v.compiled, (model.compiled_loss, model.compiled_metrics), strict=True)):
        return None
    weights = model.get_weights()
    if len(weights) != len(v.weights) or not all(np.array_equal(a, b) for a, b in zip(weights, v.weights, strict=True)):
        return None
    return dict(v.values)


def evaluate(model, args: TrainArgs) -> TrainResult:
    """Final loss/metrics of ``model`` on the transformed eval split (fit's validation of the same weights when it
    still holds: :func:`_reusable`)."""
    if not is_compiled(model):
        compile_model(model, args)
    values = _reusable(model, args)
    if values is not None:
        log.info("eval split metrics: fit's validation of these weights (same model, compile and weights)")
    else:
        with timed(log, "evaluating on eval split") as t:
            values = model.evaluate(args.dataset("eval"), return_dict=True, verbose=0)
            t["rows"] = args.eval_rows
    return TrainResult(
        loss=float(values.pop("loss")),
        metrics={k: float(v) for k, v in values.items()},
        train_rows=args.train_rows,
        eval_rows=args.eval_rows,
    )


def recorded_result(args: TrainArgs) -> TrainResult:
    """The result of a ``run_fn`` that returned no model: what it recorded in ``args.history``, if anything."""
    last = {k: v[-1] for k, v in args.history.items() if v and not k.startswith("val_")}
    return TrainResult(
        loss=float(last.pop("loss", float("nan"))), metrics=last, train_rows=args.train_rows, eval_rows=args.eval_rows
    )
