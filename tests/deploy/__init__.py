"""Tests of the deploy component against the Kubernetes API test double."""
