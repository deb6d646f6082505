"""How concentrated hash rate is by country, per month: the mining metric set over country shares.

**The "Other" rule.** Cambridge publishes the largest countries and one residual "Other" (many
smaller countries, each believed smaller than the named ones). Its split is unknown, so every
month has two rows, like the unknown policy of mining concentration:

- ``other_policy = 'entity'``: Other counts as one country. Splitting it can only lower HHI and
  the CRk and raise the Nakamoto coefficient, τ, entropy and the number of entities, so these
  rows are the most concentrated reading the data allows (an upper bound on concentration).
- ``other_policy = 'excluded'``: the named countries only, their shares renormalised to sum to 1.

Shares are taken relative to the month's published total (which the export's rounding puts a
few hundredths of a point off 100%). ``other_share`` is Other's share in both. Intervals are
not given: the published shares come without the sample sizes behind them.
"""

from __future__ import annotations

import polars as pl

from pipelines.metrics.concentration import concentration_table
from pipelines.schemas.market import HASHRATE_GEOGRAPHY_CONCENTRATION

OTHER = "OTHER"
OTHER_POLICIES = ("entity", "excluded")


def hashrate_geography_concentration(rows: pl.DataFrame) -> pl.DataFrame:
    """Per month and source, both Other policies; ``rows`` has month, country, share, hashrate_ehs,
    feed (the ``hashrate_geography`` shape)."""
    keys = ["month", "feed"]
    other = rows.group_by(keys).agg(
        pl.col("share").filter(pl.col("country") == OTHER).sum().alias("other_share"),
        pl.when(pl.col("hashrate_ehs").is_not_null().any())
        .then(pl.col("hashrate_ehs").sum())
        .alias("hashrate_ehs"),
    )
    tables = []
    for policy in OTHER_POLICIES:
        counted = rows if policy == "entity" else rows.filter(pl.col("country") != OTHER)
        table = concentration_table(
            counted, keys, entity="country", count="share", unknown_entity=None
        )
        top = (
            counted.filter(pl.col("share") > 0)
            .sort([*keys, "share", "country"], descending=[False, False, True, False])
            .unique(keys, keep="first", maintain_order=True)
            .select(*keys, pl.col("country").alias("top_country"))
        )
        tables.append(
            table.join(top, on=keys, how="left").with_columns(
                pl.lit(policy).alias("other_policy"), pl.col("entities").alias("countries")
            )
        )
    return (
        pl.concat(tables)
        .join(other, on=keys, how="left")
        .rename({"feed": "source"})
        .select(list(HASHRATE_GEOGRAPHY_CONCENTRATION.descriptions))
        .sort("month", "source", "other_policy")
    )
