"""Dagster metadata for a produced table: row count, column schema and a preview."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl


def _cell(value: Any, width: int = 60) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def markdown_table(frame: pl.DataFrame, max_rows: int = 10) -> str:
    """A GitHub-flavoured markdown table of the first rows (Dagster renders it in the UI)."""
    head = frame.head(max_rows)
    lines = [
        "| " + " | ".join(head.columns) + " |",
        "| " + " | ".join("---" for _ in head.columns) + " |",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in head.iter_rows()]
    if frame.height > max_rows:
        lines.append(f"\n_{max_rows} of {frame.height:,} rows_")
    return "\n".join(lines)


def table_schema(frame: pl.DataFrame, descriptions: dict[str, str] | None = None) -> dg.TableSchema:
    descriptions = descriptions or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(dtype), description=descriptions.get(name))
            for name, dtype in frame.schema.items()
        ]
    )


def frame_metadata(
    frame: pl.DataFrame,
    *,
    descriptions: dict[str, str] | None = None,
    preview_rows: int = 10,
) -> dict[str, Any]:
    """Row count, schema and preview of ``frame`` as Dagster metadata."""
    return {
        "dagster/row_count": dg.MetadataValue.int(frame.height),
        "dagster/column_schema": table_schema(frame, descriptions),
        "preview": dg.MetadataValue.md(markdown_table(frame, preview_rows)),
    }
