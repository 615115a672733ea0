"""kfx model server: a KServe custom predictor for kfx SavedModels (runs in the serving environment)."""
