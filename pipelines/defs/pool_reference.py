"""Curated reference tables kept in the repo: ``raw/pool_owners``, ``raw/pool_template_builders``
(with a check that it names registry pools) and ``raw/pool_label_aliases``."""

import dagster as dg

from pipelines.metadata import markdown_table
from pipelines.mining.attribution import build_lookup
from pipelines.mining.templates import unknown_pool_names
from pipelines.resources import ObservatoryResource
from pipelines.seeds import seed_table
from pipelines.sources.pool_reference import (
    ALIAS_COLUMNS,
    OWNER_COLUMNS,
    TEMPLATE_BUILDER_COLUMNS,
    read_pool_label_aliases,
    read_pool_owners,
    read_pool_template_builders,
)

pool_owners, pool_owners_expectations = seed_table(
    "pool_owners",
    read_pool_owners,
    "Curated, reviewed table of which entity owned which pool when, with a public source per row "
    "(dbt_like_sql/seeds/pool_owners.csv). A pool without a row owns itself.",
    OWNER_COLUMNS,
)
pool_template_builders, pool_template_builders_expectations = seed_table(
    "pool_template_builders",
    read_pool_template_builders,
    "Curated table of pools seen sending their miners another pool's block template (stratum "
    "jobs with the same Merkle branches), from the first day observed, with a confidence and a "
    "public source per row (dbt_like_sql/seeds/pool_template_builders.csv). A pool without a "
    "row builds its own template.",
    TEMPLATE_BUILDER_COLUMNS,
)
pool_label_aliases, pool_label_aliases_expectations = seed_table(
    "pool_label_aliases",
    read_pool_label_aliases,
    "Curated aliases mapping labels and duplicate registry entries to the registry pool they mean "
    "(dbt_like_sql/seeds/pool_label_aliases.csv).",
    ALIAS_COLUMNS,
)


@dg.asset_check(
    asset=pool_template_builders,
    name="pool_template_builders_name_registry_pools",
    blocking=True,
    additional_deps=[
        dg.AssetKey(["raw", "pool_registry"]),
        dg.AssetKey(["raw", "pool_label_aliases"]),
    ],
    description="Every pool and template builder is a pool name the attribution gives blocks "
    "(a registry name after aliases), so that no row silently matches nothing.",
)
def pool_template_builders_name_registry_pools(
    observatory: ObservatoryResource,
) -> dg.AssetCheckResult:
    lake = observatory.lake()
    lookup = build_lookup(lake.read("raw", "pool_registry"), lake.read("raw", "pool_label_aliases"))
    unknown = unknown_pool_names(lake.read("raw", "pool_template_builders"), lookup)
    return dg.AssetCheckResult(
        passed=unknown.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "unknown_names": unknown.height,
            "names": dg.MetadataValue.md(markdown_table(unknown, 50)),
        },
        description=(
            "every name is a registry pool"
            if unknown.is_empty()
            else "not pool names the attribution uses: "
            + ", ".join(f"{n} (line {line})" for line, n in unknown.select("line", "name").rows())
        ),
    )
