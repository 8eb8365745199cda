"""Tests of operations: metrics, the integration-engineer CLI (fixtures load, fire)."""
