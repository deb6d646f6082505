"""``serving/observatory_duckdb``: publishes the build database as the read-only serving file."""

import dagster as dg

from pipelines.execution import warehouse_tags
from pipelines.object_lake import ObjectLake
from pipelines.published import Publication
from pipelines.resources import ObservatoryResource
from pipelines.schemas import contracts

KEY = dg.AssetKey(["serving", "observatory_duckdb"])


def serving_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """The serving file depends on every table it holds, so it publishes after all of them."""

    @dg.asset(
        key=KEY,
        op_tags=warehouse_tags(),
        deps=sorted(upstream, key=lambda k: k.to_user_string()),
        description=(
            "The serving database (warehouse/observatory.duckdb) that analysts, `observatory sql` "
            "and notebooks open read-only; replaced atomically at the end of each run, and only "
            "when every upstream asset and blocking check in the run has passed. With the lake "
            "on object storage, also uploaded as a new version that serving/LATEST names."
        ),
    )
    def observatory_duckdb(
        context: dg.AssetExecutionContext, observatory: ObservatoryResource
    ) -> dg.MaterializeResult:
        loaded = observatory.load_lake_tables(contracts().values())  # e.g. tables no model reads
        if loaded:
            context.log.info(f"loaded from the lake: {', '.join(loaded)}")
        published = observatory.warehouse().publish()
        context.log.info(f"published {published['path']} ({published['bytes']:,} bytes)")
        metadata = {
            "path": dg.MetadataValue.path(str(published["path"])),
            "bytes": dg.MetadataValue.int(int(published["bytes"])),
            "tables": dg.MetadataValue.int(int(published["tables"])),
            "views": dg.MetadataValue.int(int(published["views"])),
        }
        lake = observatory.lake()
        if isinstance(lake, ObjectLake):  # for readers on other machines
            keep = observatory.config().keep_versions
            serving = observatory.warehouse().serving_path
            version = Publication(lake).publish(serving, context.run_id, keep)
            context.log.info(f"published {lake.root}/serving/{version.name}.duckdb as LATEST")
            metadata["version"] = version.name
            metadata["sha256"] = version.sha256
        return dg.MaterializeResult(metadata=metadata)

    return observatory_duckdb
