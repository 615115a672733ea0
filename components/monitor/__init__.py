"""monitor: what the served model's prediction log says about its health, and whether to retrain."""
