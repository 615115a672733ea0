"""KFP wrapper of transform: examples + schema (+ statistics) + module_file -> transform graph + transformed examples."""

from typing import List, Optional

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from components._shared.image import runtime_image


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def transform(
    examples: Input[Dataset],
    schema: Input[Dataset],
    module_file: str,
    transform_graph: Output[Model],
    transformed_examples: Output[Dataset],
    statistics: Optional[Input[Dataset]] = None,  # noqa: UP045  (columns it shows missing are parsed as optional)
    raw_label_key: str = "",
    beam_pipeline_args: Optional[List[str]] = None,  # noqa: UP045  (kfp reads typing.Optional)
) -> None:
    """Run the module file's TF Transform preprocessing_fn (analyze on train, transform train and eval)."""
    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components._shared.kinds import check_inputs, stamp_outputs
    from components.transform.logic import run_transform

    check_inputs("transform", examples=examples, schema=schema, statistics=statistics)
    result = run_transform(
        examples.path,
        schema.path,
        module_file,
        transform_graph.path,
        transformed_examples.path,
        beam_pipeline_args or [],
        statistics_dir=statistics.path if statistics is not None else None,
        raw_label_key=raw_label_key,
        input_uris={
            "examples_uri": examples.uri,
            "schema_uri": schema.uri,
            "statistics_uri": statistics.uri if statistics is not None else "",
        },
    )
    stamp_outputs("transform", transform_graph=transform_graph, transformed_examples=transformed_examples)
    transform_graph.metadata["module_file"] = module_file
    transform_graph.metadata["transformed_features"] = len(result.transformed_features)
    for split, rows in result.rows.items():
        transformed_examples.metadata[f"rows_{split}"] = rows
    transformed_examples.metadata["seconds"] = round(result.seconds, 1)
