import dagster as dg

from pipelines.resources import ObservatoryResource


@dg.definitions
def resources() -> dg.Definitions:
    """The observatory resource; its config file comes from $OBSERVATORY_CONFIG at run time."""
    return dg.Definitions(resources={"observatory": ObservatoryResource()})
