"""Readers, one module per source kind: files, APIs and nodes in, typed Polars frames out.

Parsing is kept in pure functions; the IO around it is thin and injectable for tests.
"""
