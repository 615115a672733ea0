"""Validate: TFDV anomalies of the data against the schema, drift, skew and PSI; always publishes its evidence.
The gate (component.gate, rule in gate.py) stops the run."""
