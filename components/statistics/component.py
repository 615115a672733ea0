"""KFP wrapper of statistics: examples -> TFDV statistics per split + facets HTML report."""

from typing import List, Optional

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Output

from components._shared.image import runtime_image


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def statistics(
    examples: Input[Dataset],
    statistics: Output[Dataset],
    report: Output[HTML],
    beam_pipeline_args: Optional[List[str]] = None,  # noqa: UP045  (kfp reads typing.Optional)
) -> None:
    """TFDV statistics of each split (streamed in this process when the runner is local, else on Beam)."""
    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components._shared.kinds import check_inputs, stamp_outputs
    from components.statistics.logic import compute_statistics

    check_inputs("statistics", examples=examples)
    counts = compute_statistics(
        examples.path,
        statistics.path,
        html_path=report.path,
        beam_pipeline_args=beam_pipeline_args or [],
    )
    for split, n in counts.items():
        statistics.metadata[f"num_examples_{split}"] = n
    statistics.metadata["num_examples"] = sum(counts.values())
    statistics.metadata["mode"] = counts.mode
    stamp_outputs("statistics", statistics=statistics)
