"""Where the hash rate is: monthly shares of network hash rate by country (CBECI mining map)."""

from __future__ import annotations

import polars as pl

OTHER = "OTHER"  # the country code of CBECI's "Other" (all countries not listed)

HASHRATE_GEOGRAPHY_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.Date(),  # first day of the month the share is for
    "country": pl.String(),  # ISO alpha-2, or OTHER
    "country_name": pl.String(),
    "share": pl.Float64(),  # 0–1
    "hashrate_ehs": pl.Float64(),
    "flagged": pl.Boolean(),
    "feed": pl.String(),
    "source": pl.String(),
}

HASHRATE_GEOGRAPHY_COLUMN_DESCRIPTIONS: dict[str, str] = {
    "month": "month the share is the average for (its first day)",
    "country": f"ISO 3166-1 alpha-2 code; {OTHER} for every country the source does not list",
    "country_name": "country as the source names it, footnote marker removed",
    "share": "share of network hash rate located in the country that month, 0–1",
    "hashrate_ehs": "the country's mean hash rate that month, EH/s, as published (null if not)",
    "flagged": (
        "the source marks the country with a footnote (*): CBECI stars Germany and Ireland "
        "because their shares are believed to come from miners routing their pool connections "
        "through VPN or proxy services there, not from mining located there"
    ),
    "feed": "configured feed it came from ([sources.market.<feed>])",
    "source": "kind of the feed (cbeci)",
}
