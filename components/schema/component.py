"""KFP wrapper of schema: statistics -> inferred schema, or a curated schema file; plus a Markdown view."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Output

from components._shared.image import runtime_image


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def schema(
    statistics: Input[Dataset],
    schema: Output[Dataset],
    view: Output[Markdown],
    schema_uri: str = "",
) -> None:
    """Infer a TFDV schema from the statistics (presence from every split), or import the curated schema at schema_uri."""
    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components._shared.kinds import check_inputs, stamp_outputs
    from components.schema.logic import make_schema

    check_inputs("schema", statistics=statistics)
    result = make_schema(statistics.path, schema.path, view_path=view.path, schema_uri=schema_uri or None)
    stamp_outputs("schema", schema=schema)
    schema.metadata["num_features"] = len(result.feature)
    schema.metadata["source"] = schema_uri or "inferred"
