"""KFP component that turns a baseline model URI (a pipeline parameter) into the ``Model`` artifact evaluate takes.

The training pipeline has no resolver, and kfp 2.13's local runner fails on an unset optional artifact input, so
evaluate's ``baseline_model`` is always wired: to this step (``uri=""`` -> an artifact marked
``metadata["present"] = False``, "no baseline") or, in train_and_deploy, to ``resolve_baseline``'s artifact.
"""

from kfp import dsl
from kfp.dsl import Model, Output

from components._shared.image import runtime_image


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def import_baseline(baseline: Output[Model], uri: str = ""):
    """A baseline ``Model`` artifact pointing at ``uri`` (kfx or TF Serving layout; local, s3:// or gs://).

    ``uri=""``: no baseline (``metadata["present"] = False``). A ``uri`` holding no SavedModel fails here, naming it.
    """
    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components._shared.artifacts import model as model_layout
    from components._shared.kinds import stamp_outputs
    from components.evaluate.inputs import PRESENT_KEY

    stamp_outputs("import_baseline", baseline=baseline)
    baseline.metadata[PRESENT_KEY] = bool(uri)
    if uri:
        model_layout.saved_model_dir(uri)  # FileNotFoundError naming both layouts when there is no model
        baseline.metadata["layout"] = model_layout.layout_of(uri) or ""
        baseline.metadata["source"] = uri
        baseline.uri = uri
