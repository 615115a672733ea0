"""Train: Keras model on transformed examples -> SavedModel with raw-feature signatures."""
