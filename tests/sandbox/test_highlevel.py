"""HighLevel contract: import courses (Bearer + Version), OAuth refresh rotation, rate-limit headers."""

from __future__ import annotations

import pytest
import requests
from fake_clock import FakeClock
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from course_pipeline.sandbox import SANDBOX_TOKENS
from course_pipeline.sandbox.schemas import (
    defs_validator,
    issues,
    openapi_validator,
    schema_validator,
    vendor_document,
)

from .conftest import replaced, vendor_state, without

IMPORT = "/courses/courses-exporter/public/import"
LOCATION = SANDBOX_TOKENS["highlevel_location_id"]
RATE_HEADERS = ("X-RateLimit-Max", "X-RateLimit-Remaining", "X-RateLimit-Interval-Milliseconds",
                "X-RateLimit-Limit-Daily", "X-RateLimit-Daily-Remaining")


def seed_payload() -> dict:
    """Every field of vendor-contracts.md section 1, nested as far as HighLevel allows."""
    post = {
        "title": "Reading a CSV",
        "visibility": "published",
        "contentType": "video",
        "description": "<p>pandas.read_csv in five minutes</p>",
        "thumbnailUrl": "https://cdn.example.com/csv.png",
        "bucketVideoUrl": "https://cdn.example.com/csv.mp4",
        "postMaterials": [{"title": "Cheat sheet", "type": "pdf", "url": "https://cdn.example.com/csv.pdf"}],
    }
    return {
        "locationId": LOCATION,
        "userId": "user-1",
        "products": [{
            "title": "Python for Analysts",
            "description": "From spreadsheets to pandas.",
            "imageUrl": "https://cdn.example.com/python.png",
            "instructorDetails": {"name": "Ada Example", "description": "Data teacher"},
            "categories": [{
                "title": "Getting started",
                "visibility": "published",
                "thumbnailUrl": "https://cdn.example.com/start.png",
                "posts": [post],
                "subCategories": [{"title": "Files", "visibility": "draft", "posts": [post]}],
            }],
        }],
    }


def import_courses(api, payload: dict, **kwargs) -> requests.Response:
    return api.post(IMPORT, json=payload, **kwargs)


def test_the_inlined_schema_says_what_the_referencing_one_says():
    """The sandbox validates against its schemas with every $ref inlined (jsonschema resolving a $ref at each use
    was most of the sandbox's time under load); the issues found are the same, and a schema that refers to
    itself keeps its references."""
    name = "highlevel-courses.openapi.json"
    uri = "urn:test"
    registry = Registry().with_resource(uri, Resource.from_contents(vendor_document(name),
                                                                    default_specification=DRAFT202012))
    referencing = Draft202012Validator({"$ref": f"{uri}#/components/schemas/PublicExporterPayload"}, registry=registry)
    inlined = openapi_validator(name, "PublicExporterPayload")
    assert "$ref" not in str(inlined.schema)
    bad = seed_payload()
    bad["products"][0]["visibility"] = "sometimes"
    del bad["products"][0]["categories"][0]["title"]
    bad["products"].append({"title": 5})
    assert issues(inlined, bad) == issues(referencing, bad) and len(issues(inlined, bad)) >= 3
    cyclic = {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}, "n": {"type": "integer"}}}}
    validator = defs_validator(cyclic, "Node")
    assert "$ref" in str(validator.schema)
    assert [i.path for i in issues(validator, {"child": {"child": {"n": "x"}}})] == ["child.child.n"]
    assert issues(schema_validator({"$defs": cyclic, "$ref": "#/$defs/Node"}), {"n": 1}) == []


def test_seed_example_is_valid_and_accepted(highlevel, sandbox):
    payload = seed_payload()
    assert issues(openapi_validator("highlevel-courses.openapi.json", "PublicExporterPayload"), payload) == []

    answer = import_courses(highlevel, payload)

    assert answer.status_code == 201
    processing = answer.json()["processingCourses"]
    assert [course["title"] for course in processing] == ["Python for Analysts"]
    state = vendor_state(sandbox, "highlevel")
    assert [course["id"] for course in state["courses"]] == [processing[0]["id"]]
    assert state["courses"][0]["body"] == payload["products"][0]
    assert state["created_per_key"] == {"Python for Analysts": 1}


CATEGORY = ("products", 0, "categories", 0)
POST = (*CATEGORY, "posts", 0)
SUBCATEGORY = (*CATEGORY, "subCategories", 0)
REQUIRED_PATHS = [
    ("locationId",),
    ("products",),
    ("products", 0, "title"),
    ("products", 0, "description"),
    ("products", 0, "categories"),
    ("products", 0, "instructorDetails", "name"),
    ("products", 0, "instructorDetails", "description"),
    (*CATEGORY, "title"),
    (*CATEGORY, "visibility"),
    (*POST, "title"),
    (*POST, "visibility"),
    (*POST, "contentType"),
    (*POST, "description"),
    (*POST, "postMaterials", 0, "title"),
    (*POST, "postMaterials", 0, "type"),
    (*POST, "postMaterials", 0, "url"),
    (*SUBCATEGORY, "title"),
    (*SUBCATEGORY, "visibility"),
    (*SUBCATEGORY, "posts", 0, "contentType"),
]


@pytest.mark.parametrize("path", REQUIRED_PATHS, ids=lambda path: ".".join(map(str, path)))
def test_each_required_field_left_out_is_refused_with_422(highlevel, sandbox, path):
    answer = import_courses(highlevel, without(seed_payload(), path))

    assert answer.status_code == 422
    body = answer.json()
    assert body["statusCode"] == 422 and body["error"] == "Unprocessable Entity"
    assert isinstance(body["message"], list)
    assert any(f"'{path[-1]}' is a required property" in message for message in body["message"])
    assert vendor_state(sandbox, "highlevel")["courses"] == []


@pytest.mark.parametrize(("path", "value"), [
    ((*CATEGORY, "visibility"), "public"),
    ((*SUBCATEGORY, "visibility"), "hidden"),
    ((*POST, "visibility"), "private"),
    ((*POST, "contentType"), "text"),
    ((*POST, "postMaterials", 0, "type"), "exe"),
    ((*POST, "postMaterials", 0, "type"), "PDF"),
    (("products", 0, "title"), 42),
    (("products", 0, "categories"), {"title": "not a list"}),
    (("locationId",), None),
], ids=str)
def test_wrong_enum_or_type_is_refused_with_422(highlevel, sandbox, path, value):
    answer = import_courses(highlevel, replaced(seed_payload(), path, value))

    assert answer.status_code == 422
    assert answer.json()["statusCode"] == 422
    assert vendor_state(sandbox, "highlevel")["courses"] == []


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", SANDBOX_TOKENS["highlevel_token"],
                                           f"Basic {SANDBOX_TOKENS['highlevel_token']}"])
def test_bad_or_missing_token_is_401_invalid_jwt(highlevel, sandbox, authorization):
    answer = import_courses(highlevel, seed_payload(), headers={"Authorization": authorization})

    assert answer.status_code == 401
    assert answer.json() == {"statusCode": 401, "message": "Invalid JWT"}
    assert vendor_state(sandbox, "highlevel")["courses"] == []


@pytest.mark.parametrize(("version", "message"), [
    (None, "Version header was not found"),
    ("2021-04-15", "Version header must be one of 2021-07-28, 2023-02-21, v3"),
    ("v2", "Version header must be one of 2021-07-28, 2023-02-21, v3"),
])
def test_missing_or_wrong_version_header_is_400(highlevel, sandbox, version, message):
    answer = import_courses(highlevel, seed_payload(), headers={"Version": version})

    assert answer.status_code == 400
    assert answer.json() == {"statusCode": 400, "message": message}
    assert vendor_state(sandbox, "highlevel")["courses"] == []


@pytest.mark.parametrize("version", ["2021-07-28", "2023-02-21", "v3"])
def test_the_seeds_version_and_the_newer_ones_the_docs_and_sdks_send_are_accepted(highlevel, version):
    assert import_courses(highlevel, seed_payload(), headers={"Version": version}).status_code == 201


# What HighLevel refuses beyond its OpenAPI file (issue 12), and what it does not.

def products(n: int) -> dict:
    payload = seed_payload()
    payload["products"] = [{**payload["products"][0], "title": f"Course {i}"} for i in range(n)]
    return payload


@pytest.mark.parametrize(("payload", "message"), [
    (replaced(seed_payload(), ("products",), []), "products should not be empty"),
    (replaced(seed_payload(), ("products", 0, "imageUrl"), "not a url"), "products.0.imageUrl must be a URL address"),
    (replaced(seed_payload(), ("products", 0, "imageUrl"), "/img/python.png"),
     "products.0.imageUrl must be a URL address"),
    (replaced(seed_payload(), ("courseCount",), 1), "property courseCount should not exist"),
    (replaced(seed_payload(), ("products", 0, "externalId"), "C1"), "products.0.property externalId should not exist"),
    (replaced(seed_payload(), (*POST, "duration"), 30),
     "products.0.categories.0.posts.0.property duration should not exist"),
    (products(51), "products must contain no more than 50 elements"),
], ids=["no-products", "image-not-a-url", "image-a-path", "unknown-top", "unknown-product", "unknown-post",
        "51-products"])
def test_refusals_beyond_the_schema_are_422_and_import_nothing(highlevel, sandbox, payload, message):
    answer = import_courses(highlevel, payload)

    assert answer.status_code == 422
    assert message in answer.json()["message"]
    assert vendor_state(sandbox, "highlevel")["courses"] == []


@pytest.mark.parametrize("payload", [
    replaced(seed_payload(), ("products", 0, "categories"), []),
    replaced(seed_payload(), ("products", 0, "imageUrl"), "cdn.example.com/python.png"),
    products(50),
], ids=["no-categories", "image-without-scheme", "50-products"])
def test_what_the_docs_allow_is_accepted(highlevel, payload):
    answer = import_courses(highlevel, payload)

    assert answer.status_code == 201
    assert len(answer.json()["processingCourses"]) == len(payload["products"])


def test_one_bad_product_refuses_the_whole_request(highlevel, sandbox):
    payload = products(4)
    del payload["products"][2]["description"]

    answer = import_courses(highlevel, payload)

    assert answer.status_code == 422
    assert vendor_state(sandbox, "highlevel")["created_per_key"] == {}  # not even the three good ones


def test_the_maximum_per_request_is_a_setting(make_sandbox, connect):
    api = connect(make_sandbox(highlevel_max_products=2), "highlevel")

    assert import_courses(api, products(2)).status_code == 201
    assert import_courses(api, products(3)).json()["message"] == ["products must contain no more than 2 elements"]


def test_other_location_is_403(highlevel, sandbox):
    answer = import_courses(highlevel, replaced(seed_payload(), ("locationId",), "someone-elses-location"))

    assert answer.status_code == 403
    assert answer.json() == {"statusCode": 403, "message": "The token does not have access to this location."}
    assert vendor_state(sandbox, "highlevel")["courses"] == []


@pytest.mark.parametrize(("data", "content_type"), [
    ("{not json", "application/json"),
    ('{"locationId": "x"}', "text/plain"),
])
def test_body_that_is_not_json_is_400(highlevel, data, content_type):
    answer = highlevel.post(IMPORT, data=data, headers={"Content-Type": content_type})

    assert answer.status_code == 400
    assert answer.json()["statusCode"] == 400


def test_resending_a_course_creates_a_duplicate(highlevel, sandbox):
    first = import_courses(highlevel, seed_payload())
    second = import_courses(highlevel, seed_payload())

    assert first.status_code == second.status_code == 201
    assert first.json()["processingCourses"][0]["id"] != second.json()["processingCourses"][0]["id"]
    state = vendor_state(sandbox, "highlevel")
    assert len(state["courses"]) == 2
    assert state["created_per_key"] == {"Python for Analysts": 2}
    assert state["duplicates"] == 1


def test_rate_limit_headers_on_every_answer(highlevel):
    answers = [import_courses(highlevel, seed_payload()),
               import_courses(highlevel, seed_payload(), headers={"Authorization": None}),
               highlevel.get("/no/such/endpoint")]

    assert [a.status_code for a in answers] == [201, 401, 404]
    for answer in answers:
        assert all(name in answer.headers for name in RATE_HEADERS)
    assert [int(a.headers["X-RateLimit-Remaining"]) for a in answers] == [99, 98, 97]
    assert answers[0].headers["X-RateLimit-Max"] == "100"
    assert answers[0].headers["X-RateLimit-Interval-Milliseconds"] == "10000"
    assert answers[0].headers["X-RateLimit-Limit-Daily"] == "200000"
    assert answers[2].headers["X-RateLimit-Daily-Remaining"] == "199997"


def test_burst_limit_answers_429_at_the_101st_request_in_10_seconds(highlevel, sandbox):
    statuses = [import_courses(highlevel, seed_payload()).status_code for _ in range(100)]
    refused = import_courses(highlevel, seed_payload())

    assert statuses == [201] * 100
    assert refused.status_code == 429
    assert refused.json() == {"statusCode": 429, "message": "Too many requests"}
    assert "Retry-After" not in refused.headers  # not documented: the X-RateLimit-* headers say it
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Interval-Milliseconds"] == "10000"
    state = vendor_state(sandbox, "highlevel")
    assert len(state["courses"]) == 100
    assert state["counters"]["throttled"] == 1


def test_daily_limit_answers_429_with_no_daily_requests_remaining(make_sandbox, connect):
    clock = FakeClock()
    api = connect(make_sandbox(highlevel_daily_limit=3, clock=clock), "highlevel")

    answers = [import_courses(api, seed_payload()) for _ in range(3)]
    clock.advance(60)  # a fresh burst window: only the day is spent
    refused = import_courses(api, seed_payload())

    assert [a.status_code for a in answers] == [201] * 3
    assert answers[-1].headers["X-RateLimit-Daily-Remaining"] == "0"
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Daily-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Limit-Daily"] == "3"
    assert int(refused.headers["X-RateLimit-Remaining"]) > 0
    assert "Retry-After" not in refused.headers
    clock.advance(86_400)
    assert import_courses(api, seed_payload()).status_code == 201


def test_rate_limit_and_window_are_configurable(make_sandbox, connect):
    clock = FakeClock()
    server = make_sandbox(highlevel_rate_limit=3, highlevel_rate_window=0.5, clock=clock)
    api = connect(server, "highlevel")

    statuses = [import_courses(api, seed_payload()).status_code for _ in range(4)]
    clock.advance(0.55)
    after_window = import_courses(api, seed_payload())

    assert statuses == [201, 201, 201, 429]
    assert after_window.status_code == 201
    assert after_window.headers["X-RateLimit-Interval-Milliseconds"] == "500"
    assert after_window.headers["X-RateLimit-Max"] == "3"


# OAuth

def refresh(api, refresh_token: str, **overrides) -> requests.Response:
    form = {
        "client_id": SANDBOX_TOKENS["highlevel_client_id"],
        "client_secret": SANDBOX_TOKENS["highlevel_client_secret"],
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "user_type": "Location",
        **overrides,
    }
    return requests.post(api.url("/oauth/token"), data=form, timeout=10)


def test_refresh_issues_an_access_token_that_imports(highlevel):
    answer = refresh(highlevel, SANDBOX_TOKENS["highlevel_refresh_token"])

    assert answer.status_code == 200
    tokens = answer.json()
    assert tokens["locationId"] == LOCATION
    assert tokens["expires_in"] == 86_399
    assert tokens["refresh_token"] != SANDBOX_TOKENS["highlevel_refresh_token"]
    imported = import_courses(highlevel, seed_payload(), headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert imported.status_code == 201


def test_refresh_tokens_rotate_and_a_spent_one_is_refused(highlevel, sandbox):
    first = refresh(highlevel, SANDBOX_TOKENS["highlevel_refresh_token"]).json()

    spent = refresh(highlevel, SANDBOX_TOKENS["highlevel_refresh_token"])
    second = refresh(highlevel, first["refresh_token"])

    assert spent.status_code == 400
    assert spent.json()["error"] == "invalid_grant"
    assert second.status_code == 200
    assert second.json()["refresh_token"] not in (first["refresh_token"], SANDBOX_TOKENS["highlevel_refresh_token"])
    assert refresh(highlevel, first["refresh_token"]).status_code == 400
    assert vendor_state(sandbox, "highlevel")["oauth"] == {"refreshes": 2, "refused": 2, "expired_tokens": 0}


@pytest.mark.parametrize(("overrides", "status", "error"), [
    ({"client_secret": "wrong"}, 401, "invalid_client"),
    ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
    ({"client_id": ""}, 400, "invalid_request"),
    ({"user_type": "Company"}, 400, "invalid_request"),
])
def test_bad_token_requests_are_refused(highlevel, overrides, status, error):
    answer = refresh(highlevel, SANDBOX_TOKENS["highlevel_refresh_token"], **overrides)

    assert answer.status_code == status
    assert answer.json()["error"] == error
    # The refresh token was not spent by a refused request.
    assert refresh(highlevel, SANDBOX_TOKENS["highlevel_refresh_token"]).status_code == 200


def test_token_endpoint_wants_a_form_not_json(highlevel):
    answer = requests.post(highlevel.url("/oauth/token"), timeout=10, json={
        "client_id": SANDBOX_TOKENS["highlevel_client_id"], "client_secret": SANDBOX_TOKENS["highlevel_client_secret"],
        "grant_type": "refresh_token", "refresh_token": SANDBOX_TOKENS["highlevel_refresh_token"]})

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_access_token_expires_after_the_configured_lifetime(make_sandbox, connect):
    clock = FakeClock()
    server = make_sandbox(highlevel_token_lifetime=0.3, clock=clock)
    api = connect(server, "highlevel")
    tokens = refresh(api, SANDBOX_TOKENS["highlevel_refresh_token"]).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    fresh = import_courses(api, seed_payload(), headers=bearer)
    clock.advance(0.35)
    expired = import_courses(api, seed_payload(), headers=bearer)

    assert tokens["expires_in"] == 1
    assert fresh.status_code == 201
    assert expired.status_code == 401
    assert expired.json() == {"statusCode": 401, "message": "Invalid JWT"}
    import_courses(api, seed_payload(), headers=bearer)  # the same expired token again
    assert vendor_state(server, "highlevel")["oauth"] == {"refreshes": 1, "refused": 0, "expired_tokens": 1}


def test_refused_titles_switch_refuses_those_products_with_422(make_sandbox, connect):
    server = make_sandbox(highlevel_refused_titles=("Course 1",))
    api = connect(server, "highlevel")

    refused = import_courses(api, products(3))
    accepted = import_courses(api, replaced(products(3), ("products", 1, "title"), "Course 9"))

    assert refused.status_code == 422
    assert refused.json()["message"] == ["products.1.title 'Course 1' is refused (the sandbox's test switch)"]
    assert accepted.status_code == 201
    assert sorted(vendor_state(server, "highlevel")["created_per_key"]) == ["Course 0", "Course 2", "Course 9"]
