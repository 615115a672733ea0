"""Schema: infer from statistics or import a curated .pbtxt."""
