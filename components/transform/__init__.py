"""Transform: TF Transform preprocessing_fn on Beam -> transform graph + transformed examples."""
