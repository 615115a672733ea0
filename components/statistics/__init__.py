"""Statistics: TFDV statistics per split + facets HTML."""
