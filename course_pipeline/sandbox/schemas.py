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


class _NotInlinable(Exception):
    """A schema that refers to itself, or elsewhere than `prefix`: it is validated with its references."""


def inline_refs(node: Any, named: dict[str, Any], prefix: str, seen: tuple[str, ...] = ()) -> Any:
    """`node` with every ``$ref`` to ``<prefix><name>`` replaced by ``named[name]``, itself inlined, so that
    validating follows no reference: jsonschema resolves a ``$ref`` through `referencing` at every use, which
    made the sandbox's check of one HighLevel import of 50 products take 66 ms, and 1.7 ms inlined (the
    sandbox answers every vendor on one thread, so its checks are its speed). Raises _NotInlinable for a
    schema that refers to itself or to something not under `prefix`."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            name = ref[len(prefix):] if isinstance(ref, str) and ref.startswith(prefix) else None
            if name is None or name in seen or name not in named:
                raise _NotInlinable(ref)
            target = inline_refs(named[name], named, prefix, (*seen, name))
            siblings = {key: inline_refs(value, named, prefix, seen) for key, value in node.items() if key != "$ref"}
            if not siblings:
                return target
            return {**siblings, "allOf": [target, *siblings.get("allOf", [])]}  # a $ref's siblings apply too
        return {key: inline_refs(value, named, prefix, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [inline_refs(value, named, prefix, seen) for value in node]
    return node


def defs_validator(defs: dict[str, Any], root: str) -> Draft202012Validator:
    """Validator for ``defs[root]`` (references written ``#/$defs/<name>``), inlined where they are not cyclic,
    else resolved as written."""
    try:
        return schema_validator(inline_refs(defs[root], defs, "#/$defs/"))
    except _NotInlinable:
        return schema_validator({"$defs": defs, "$ref": f"#/$defs/{root}"})


@cache
def openapi_validator(filename: str, component: str) -> Draft202012Validator:
    """Validator for ``#/components/schemas/<component>`` with every ``$ref`` resolved inside the file."""
    schemas = vendor_document(filename).get("components", {}).get("schemas", {})
    try:
        return schema_validator(inline_refs(schemas[component], schemas, "#/components/schemas/"))
    except _NotInlinable:
        pass
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
