"""One dynamic partition per catalog source named in sources.yaml."""

import dagster as dg

from ..catalog.sources import SourceConfig

catalog_partitions = dg.DynamicPartitionsDefinition(name="catalog_sources")


def register_sources(instance: dg.DagsterInstance, sources: list[SourceConfig]) -> list[str]:
    """Add a partition for each source the instance does not know yet; returns the names added."""
    known = set(instance.get_dynamic_partitions(catalog_partitions.name))
    new = [s.name for s in sources if s.name not in known]
    if new:
        try:
            instance.add_dynamic_partitions(catalog_partitions.name, new)
        except Exception:  # another process registered them meanwhile (first runs on a fresh instance)
            known = set(instance.get_dynamic_partitions(catalog_partitions.name))
            missing = [name for name in new if name not in known]
            if missing:
                instance.add_dynamic_partitions(catalog_partitions.name, missing)
    return new
