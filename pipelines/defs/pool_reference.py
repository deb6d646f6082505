"""``raw/pool_owners`` and ``raw/pool_label_aliases``: curated reference tables kept in the repo."""

from pipelines.seeds import seed_table
from pipelines.sources.pool_reference import (
    ALIAS_COLUMNS,
    OWNER_COLUMNS,
    read_pool_label_aliases,
    read_pool_owners,
)

pool_owners, pool_owners_expectations = seed_table(
    "pool_owners",
    read_pool_owners,
    "Curated, reviewed table of which entity owned which pool when, with a public source per row "
    "(dbt_like_sql/seeds/pool_owners.csv). A pool without a row owns itself.",
    OWNER_COLUMNS,
)
pool_label_aliases, pool_label_aliases_expectations = seed_table(
    "pool_label_aliases",
    read_pool_label_aliases,
    "Curated aliases mapping labels and duplicate registry entries to the registry pool they mean "
    "(dbt_like_sql/seeds/pool_label_aliases.csv).",
    ALIAS_COLUMNS,
)
