"""Validate: TFDV anomalies of the data against the schema, drift, skew and PSI, with a gate."""
