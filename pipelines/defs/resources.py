import dagster as dg

from pipelines.config import config_path
from pipelines.resources import ObservatoryResource


@dg.definitions
def resources() -> dg.Definitions:
    """The observatory resource, configured from $OBSERVATORY_CONFIG (default: live sources)."""
    return dg.Definitions(
        resources={"observatory": ObservatoryResource(config_file=str(config_path()))}
    )
