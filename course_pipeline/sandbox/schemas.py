"""JSON-schema validation: the vendors' own OpenAPI files and the hand-written schemas."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_SCHEMA_PACKAGE = "course_pipeline.sandbox"


@dataclass(frozen=True)
class Issue:
    """One schema violation: where (``products[0].title``), what, and which keyword failed."""

    path: str
    message: str
    keyword: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@cache
def vendor_document(filename: str) -> dict[str, Any]:
    """A vendor's OpenAPI file, shipped inside the package (see vendor_schemas/)."""
    text = files(_SCHEMA_PACKAGE).joinpath("vendor_schemas", filename).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def openapi_validator(filename: str, component: str) -> Draft202012Validator:
    """Validator for ``#/components/schemas/<component>`` with every ``$ref`` resolved inside the file."""
    uri = f"urn:course-pipeline:{filename}"
    resource = Resource.from_contents(vendor_document(filename), default_specification=DRAFT202012)
    registry = Registry().with_resource(uri, resource)
    return Draft202012Validator({"$ref": f"{uri}#/components/schemas/{component}"}, registry=registry)


def schema_validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def issues(validator: Draft202012Validator, instance: Any) -> list[Issue]:
    """Every violation, leaf-first (``oneOf``/``anyOf`` failures are opened up), ``required`` first."""
    found = [_issue(leaf) for error in validator.iter_errors(instance) for leaf in _leaves(error)]
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda issue: (issue.keyword != "required", issue.path))


def _leaves(error: ValidationError) -> list[ValidationError]:
    if not error.context:
        return [error]
    return [leaf for child in error.context for leaf in _leaves(child)]


def _issue(error: ValidationError) -> Issue:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return Issue(path=path, message=error.message, keyword=str(error.validator))
