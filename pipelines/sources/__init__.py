"""Pure parsers: a source's raw bytes in, a typed Polars frame out (no IO, no Dagster)."""
