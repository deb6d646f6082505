"""CSV files read as text (every column a string) and the checks readers apply to each value."""

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


def number_problem(raw: pl.Expr) -> pl.Expr:
    """Why the text `raw` is not a finite non-negative number; null when it is one."""
    number = raw.str.strip_chars().cast(pl.Float64, strict=False)
    return (
        pl.when(raw.is_null())
        .then(pl.lit("missing"))
        .when(number.is_null())
        .then(pl.lit("not a number"))
        .when(~number.is_finite())
        .then(pl.lit("not finite"))
        .when(number < 0)
        .then(pl.lit("negative"))
    )
