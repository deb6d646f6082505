"""Text files as lines, read by Polars in one streaming pass (no Python loop per line)."""

from pathlib import Path

import polars as pl


def scan_lines(path: Path) -> pl.LazyFrame:
    """Non-blank lines of ``path``: ``line_no`` (1-based), ``line``, and ``nul``.

    The file is read as a one-column CSV split on NUL, a byte text records never contain; ``nul``
    holds what follows one (non-null marks a line with a NUL byte, which callers reject).
    Undecodable bytes become U+FFFD.
    """
    lines = pl.scan_csv(
        path,
        has_header=False,
        separator="\x00",
        quote_char=None,
        schema={"line": pl.String, "nul": pl.String},
        missing_columns="insert",
        truncate_ragged_lines=True,
        encoding="utf8-lossy",
    ).with_row_index("line_no", offset=1)
    # blank: no character but whitespace. A line opening a JSON object is not; only the others
    # are searched (a search, not a stripped copy of every line)
    line = pl.col("line")
    opens_object = line.str.starts_with("{")
    not_blank = opens_object | pl.when(~opens_object).then(line).str.contains(r"\S")
    return lines.filter(pl.col("nul").is_not_null() | not_blank)
