"""Curated operator tables kept in the repo: ``raw/node_organizations`` (AS → operator) and
``raw/hosting_providers`` (operator → cloud or datacenter), with a check that every hosting
provider is an operator the AS table names."""

import dagster as dg

from pipelines.checks import unmatched_result
from pipelines.nodes.dispersion import unknown_hosting_operators
from pipelines.resources import ObservatoryResource
from pipelines.schemas.nodes import HOSTING_PROVIDERS, NODE_ORGANIZATIONS
from pipelines.seeds import seed_table
from pipelines.sources.seeds import read_hosting_providers, read_node_organizations

node_organizations, node_organizations_expectations = seed_table(
    NODE_ORGANIZATIONS, read_node_organizations
)
hosting_providers, hosting_providers_expectations = seed_table(
    HOSTING_PROVIDERS, read_hosting_providers
)
ORGANIZATIONS = node_organizations.key
HOSTING = hosting_providers.key


@dg.asset_check(
    asset=hosting_providers,
    name="hosting_providers_name_node_organizations",
    blocking=True,
    additional_deps=[node_organizations],
    description="Every hosting provider is an operator raw.node_organizations names (nodes are "
    "matched to a provider by that name), so that no row silently matches nothing.",
)
def hosting_providers_name_node_organizations(
    observatory: ObservatoryResource,
) -> dg.AssetCheckResult:
    lake = observatory.lake()
    unknown = unknown_hosting_operators(
        lake.read("raw", "node_organizations"), lake.read("raw", "hosting_providers")
    )
    return unmatched_result(
        unknown, "every provider is a named operator", "not operators of raw.node_organizations"
    )
