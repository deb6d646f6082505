"""Every table contract of the lake, in one place: name, description, columns (type and meaning).

A contract is declared once, in the module of its domain (``schemas/mining.py``, ...). Readers
conform their frames to it, the raw-table writer and ``store_table`` load it into DuckDB with its
comments, Dagster shows its columns, SQL marts that pass a table through inherit its column
descriptions, and the expectation suites' column lists are checked against it
(``tests/test_schemas.py``).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

import polars as pl

_CONTRACTS: dict[str, Contract] = {}


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    description: str


@dataclass(frozen=True)
class Contract:
    """A lake table: ``relation`` is ``<layer>.<table>`` (layer ``raw`` or ``intermediate``)."""

    relation: str
    description: str
    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        if self.relation in _CONTRACTS:
            raise ValueError(f"contract {self.relation} declared twice")
        names = [c.name for c in self.columns]
        if len(names) != len(set(names)):
            raise ValueError(f"contract {self.relation}: a column is declared twice")
        _CONTRACTS[self.relation] = self

    @property
    def layer(self) -> str:
        return self.relation.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.relation.split(".", 1)[1]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def descriptions(self) -> dict[str, str]:
        return {c.name: c.description for c in self.columns}

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.dtype for c in self.columns}

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.schema)

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Add missing columns as nulls, cast to the contract's types and order the columns."""
        schema = self.schema
        missing = [pl.lit(None, dtype).alias(n) for n, dtype in schema.items() if n not in frame]
        return frame.with_columns(missing).select(
            pl.col(name).cast(dtype) for name, dtype in schema.items()
        )


def table(relation: str, description: str, *columns: tuple) -> Contract:
    """Declare a contract: ``columns`` are ``(name, dtype, description)`` triples."""
    return Contract(relation, description, tuple(Column(*c) for c in columns))


def contracts() -> dict[str, Contract]:
    """Every declared contract, by relation (imports every module of this package)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return dict(sorted(_CONTRACTS.items()))


def contract(relation: str) -> Contract:
    found = contracts()
    if relation not in found:
        raise KeyError(f"no contract for {relation}; declared: {', '.join(found)}")
    return found[relation]
