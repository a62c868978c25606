"""Resources: where the catalog sources are configured."""

import os

import dagster as dg

from ..catalog.sources import SourceConfig, find_source, load_sources
from ..vendors.settings import highlevel_location_id

DEFAULT_SOURCES_FILE = "data/sources.yaml"


class CatalogSources(dg.ConfigurableResource):
    """The sources.yaml to read; relative paths are taken from the working directory (the checkout
    when run by `make ui` or `course-pipeline`)."""

    sources_file: str = DEFAULT_SOURCES_FILE

    def all(self) -> list[SourceConfig]:
        return load_sources(self.sources_file)

    def get(self, name: str) -> SourceConfig:
        return find_source(self.all(), name)


class HighLevelSettings(dg.ConfigurableResource):
    """The HighLevel sub-account (location) courses are imported into."""

    location_id: str = highlevel_location_id()


def default_sources_file() -> str:
    return os.environ.get("COURSE_PIPELINE_SOURCES", DEFAULT_SOURCES_FILE)
