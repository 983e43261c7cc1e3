"""The API reference: every operation documented, typed and exemplified; docs served locally.

Walks the OpenAPI document the app serves: each operation needs a summary, a description
saying who may call it, an example for its request body and for a 2xx answer, a schema
for each 2xx answer, and the shared error body for each error it declares. Swagger UI and
ReDoc must load only from the app itself (the exchange may run without internet).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

SUCCESS = re.compile(r"2\d\d")


@pytest.fixture
def openapi(world) -> dict[str, Any]:
    response = world.client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(openapi: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
    ]


def resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a ``$ref`` (an array of them, or an optional one) points at."""
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        schema = branches[0]
    if schema.get("type") == "array" and "items" in schema:
        schema = schema["items"]
    ref = schema.get("$ref")
    if ref:
        return openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def has_example(openapi: dict[str, Any], media: dict[str, Any]) -> bool:
    if "example" in media or media.get("examples"):
        return True
    schema = resolve(openapi, media.get("schema", {}))
    return bool(schema.get("examples") or "example" in schema)


def test_every_operation_has_a_summary_and_a_description_naming_who_may_call_it(openapi):
    missing = []
    for name, operation in operations(openapi):
        if not operation.get("summary"):
            missing.append(f"{name}: no summary")
        description = operation.get("description", "")
        if not description.strip():
            missing.append(f"{name}: no description")
        elif "**Who:**" not in description:
            missing.append(f"{name}: the description does not say who may call it")
        errors = [s for s in operation["responses"] if s.startswith(("4", "5"))]
        if errors and "**Errors**" not in description:
            missing.append(f"{name}: the description does not list its errors")
    assert not missing, "\n".join(missing)


def test_every_operation_has_examples_and_a_schema_for_each_success(openapi):
    missing = []
    for name, operation in operations(openapi):
        body = operation.get("requestBody")
        if body:
            for media_type, media in body["content"].items():
                if not has_example(openapi, media):
                    missing.append(f"{name}: no example for its {media_type} request body")
        successes = {s: r for s, r in operation["responses"].items() if SUCCESS.fullmatch(s)}
        if not successes:
            missing.append(f"{name}: no 2xx response")
        examples = 0
        for status, response in successes.items():
            content = response.get("content", {})
            if not content:
                missing.append(f"{name}: {status} has no content")
            for media_type, media in content.items():
                schema = media.get("schema")
                if not schema or schema == {}:
                    missing.append(f"{name}: {status} {media_type} has no schema")
                elif media_type == "application/json" and not resolve(openapi, schema).get(
                    "properties"
                ):
                    missing.append(f"{name}: {status} is untyped JSON")
                examples += has_example(openapi, media)
        if not examples:
            missing.append(f"{name}: no example of a successful answer")
    assert not missing, "\n".join(missing)


def test_every_declared_error_has_the_shared_error_body(openapi):
    wrong = []
    for name, operation in operations(openapi):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            media = response.get("content", {}).get("application/json", {})
            if media.get("schema", {}).get("$ref") != "#/components/schemas/ErrorBody":
                wrong.append(f"{name}: {status} does not use ErrorBody")
            elif not has_example(openapi, media):
                wrong.append(f"{name}: {status} has no example")
    assert not wrong, "\n".join(wrong)
    assert "HTTPValidationError" not in openapi["components"]["schemas"]


def test_every_component_schema_has_a_title_a_description_and_an_example(openapi):
    """Nested models too: each is a component of its own, shown on its own in the docs."""
    missing = []
    for name, schema in openapi["components"]["schemas"].items():
        if not schema.get("title"):
            missing.append(f"{name}: no title")
        if not str(schema.get("description", "")).strip():
            missing.append(f"{name}: no description")
        if not (schema.get("examples") or "example" in schema):
            missing.append(f"{name}: no example")
    assert not missing, "\n".join(missing)


def deref(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def mismatches(
    openapi: dict[str, Any], value: Any, schema: dict[str, Any], where: str
) -> list[str]:
    """Where an example strays from its schema: a key that is no field, a required field
    left out (FastAPI drops nulls from examples, so a nullable one may be), a wrong shape."""
    schema = deref(openapi, schema)
    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if deref(openapi, b).get("type") != "null"]
        if value is None or len(branches) != 1:
            return []
        return mismatches(openapi, value, branches[0], where)
    if "properties" in schema:
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        props = schema["properties"]
        out = []
        if not schema.get("additionalProperties"):
            out += [f"{where}.{key}: not a field" for key in value if key not in props]
        for key in schema.get("required", []):
            field = deref(openapi, props[key])
            nullable = any(deref(openapi, b).get("type") == "null" for b in field.get("anyOf", []))
            if key not in value and not nullable:
                out.append(f"{where}.{key}: required, missing")
        for key, item in value.items():
            if key in props:
                out += mismatches(openapi, item, props[key], f"{where}.{key}")
        return out
    if schema.get("type") == "array" and "items" in schema:
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [
            found
            for i, item in enumerate(value)
            for found in mismatches(openapi, item, schema["items"], f"{where}[{i}]")
        ]
    return []


def test_every_example_matches_its_schema_down_to_nested_models(openapi):
    wrong = []
    for name, schema in openapi["components"]["schemas"].items():
        for i, example in enumerate(schema.get("examples") or []):
            wrong += mismatches(openapi, example, schema, f"{name}.examples[{i}]")
    for name, operation in operations(openapi):
        answers = [(status, r) for status, r in operation["responses"].items()]
        answers.append(("request body", operation.get("requestBody", {})))
        for status, answer in answers:
            for media in answer.get("content", {}).values():
                if "example" in media and "schema" in media:
                    wrong += mismatches(
                        openapi, media["example"], media["schema"], f"{name} {status}"
                    )
    assert not wrong, "\n".join(wrong)


def test_keys_are_a_bearer_security_scheme_and_public_routes_need_none(openapi):
    scheme = openapi["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    public = {
        "GET /healthz",
        "GET /v1/ledger/public-key",
        "GET /v1/transparency/{dataset_id}",
        "POST /v1/transparency/{dataset_id}/objections",  # anyone may object to a listing
    }
    for name, operation in operations(openapi):
        params = [p["name"].lower() for p in operation.get("parameters", [])]
        assert "authorization" not in params, name
        if name in public:
            assert "security" not in operation, name
        else:
            assert operation.get("security") == [{"bearerAuth": []}], name


def test_state_changing_operations_document_the_idempotency_key(openapi):
    for name, operation in operations(openapi):
        params = {p["name"] for p in operation.get("parameters", [])}
        assert ("Idempotency-Key" in params) == (not name.startswith("GET")), name


def test_the_documented_answers_match_what_the_api_sends(world, openapi):
    """A typed response model must not change the JSON: spot-check against the schema."""
    answer = world.call("provider", "GET", "/v1/me")
    assert answer.status_code == 200, answer.text
    me = answer.json()
    props = resolve(openapi, {"$ref": "#/components/schemas/AccountPublic"})["properties"]
    assert set(me) == set(props)
    key = world.client.get("/v1/ledger/public-key").json()
    assert set(key) == {"public_key_pem", "public_key_hex"}
    head = world.call("auditor", "GET", "/v1/audit/head").json()
    assert set(head) == {"root", "signature", "size", "time", "public_key_pem"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_only_the_apps_own_assets(world, page):
    response = world.client.get(page)
    assert response.status_code == 200
    html = response.text
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    urls += re.findall(r"""url:\s*'([^']+)'""", html)
    assert urls, html
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert world.client.get(url).status_code == 200, url
    assert "http://" not in html and "https://" not in html, html
    assert "fonts.googleapis" not in html


def test_the_docs_assets_are_served_with_their_types(world):
    for name, kind in [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("redoc.standalone.js", "javascript"),
    ]:
        response = world.client.get(f"/static/docs/{name}")
        assert response.status_code == 200, name
        assert kind in response.headers["content-type"], name
        assert len(response.content) > 10_000, name
