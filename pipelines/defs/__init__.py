"""Dagster definitions, one module per source or mart; loaded by ``pipelines.definitions``."""
