"""CSV files read as text: every column a string, for readers that check each value themselves."""

import codecs
import io

import polars as pl

from pipelines.http import SourceFormatError


def read_text_csv(data: bytes, where: str) -> pl.DataFrame:
    """Every column as text: a UTF-8 BOM dropped, undecodable bytes replaced, header names
    stripped. A file Polars cannot parse raises SourceFormatError
    ``"<where>: not a readable CSV: <first line of the reason>"``."""
    try:
        frame = pl.read_csv(
            io.BytesIO(data.removeprefix(codecs.BOM_UTF8)),
            infer_schema=False,
            encoding="utf8-lossy",
        )
    except pl.exceptions.PolarsError as exc:
        problem = str(exc).splitlines()[0]
        raise SourceFormatError(f"{where}: not a readable CSV: {problem}") from exc
    return frame.rename({name: name.strip() for name in frame.columns})
