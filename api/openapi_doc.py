"""The published OpenAPI document, with optional query parameters said as a query string can say them.

FastAPI publishes an optional filter (`sku: str | None = None`) as `anyOf: [string, null]`. A query string
has no null: a filter is given or left out (the parameter is not `required`). The null branch only
misleads a client, or a fuzzer that turns "null" into a list, whose one element a query string then
carries as a plain value (`?sku=0.0`) that the API rightly takes. So the null branch goes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

NULL = {"type": "null"}


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    branches = schema.get("anyOf")
    if not isinstance(branches, list) or NULL not in branches:
        return schema
    rest = [b for b in branches if b != NULL]
    outer = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**rest[0], **outer} if len(rest) == 1 else {**outer, "anyOf": rest}


def query_without_null(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with every query parameter's null branch removed (in place; returned for chaining)."""
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if param.get("in") == "query" and isinstance(param.get("schema"), dict):
                    param["schema"] = _without_null(param["schema"])
    return doc


def install(app: FastAPI) -> None:
    """Publish the document with the query parameters as they are sent (built once, as FastAPI does)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = query_without_null(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
