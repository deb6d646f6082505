"""Curated reference tables kept in the repo: ``raw/pool_owners``, ``raw/pool_template_builders``
(with a check that it names registry pools) and ``raw/pool_label_aliases``."""

import dagster as dg

from pipelines.checks import unmatched_result
from pipelines.mining.attribution import build_lookup
from pipelines.mining.templates import unknown_pool_names
from pipelines.resources import ObservatoryResource
from pipelines.schemas.mining import POOL_LABEL_ALIASES, POOL_OWNERS, POOL_TEMPLATE_BUILDERS
from pipelines.seeds import seed_table
from pipelines.sources.seeds import (
    read_pool_label_aliases,
    read_pool_owners,
    read_pool_template_builders,
)

pool_owners, pool_owners_expectations = seed_table(POOL_OWNERS, read_pool_owners)
pool_template_builders, pool_template_builders_expectations = seed_table(
    POOL_TEMPLATE_BUILDERS, read_pool_template_builders
)
pool_label_aliases, pool_label_aliases_expectations = seed_table(
    POOL_LABEL_ALIASES, read_pool_label_aliases
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
    names = [f"{name} (line {line})" for line, name in unknown.select("line", "name").rows()]
    return unmatched_result(
        unknown, "every name is a registry pool", "not pool names the attribution uses", names
    )
