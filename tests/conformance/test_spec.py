"""openapi.yaml is a valid OpenAPI 3.0 document, and the app serves exactly its paths."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from starlette.routing import BaseRoute, Mount, Route, Router

from handlers.app import create_app
from handlers.config.settings import Settings
from tests.conftest import RunningProxy

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Routes connexion's Swagger UI middleware adds; README "Endpoints" documents them.
DOCUMENTED_EXTRAS = {"/openapi.json", "/openapi.yaml", "/ui", "/ui/", "/ui/index.html"}


def load_spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def spec_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def _routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, set[str] | None]]:
    """(path, methods) of every route, mounts flattened; methods None for a mounted app."""
    out: list[tuple[str, set[str] | None]] = []
    for route in routes:
        if isinstance(route, Mount):
            inner = route.app if isinstance(route.app, Router) else None
            if inner is None:
                out.append((prefix + route.path, None))
            else:
                out += _routes(inner.routes, prefix + route.path)
        elif isinstance(route, Route):
            out.append((prefix + route.path, set(route.methods or ())))
    return out


def served(settings: Settings) -> dict[str, list[tuple[str, set[str] | None]]]:
    """Routes per connexion middleware (RoutingMiddleware: the API; SwaggerUIMiddleware: docs)."""
    app = create_app(settings)
    _, middlewares = app.middleware._build_middleware_stack()
    out = {}
    for middleware in middlewares:
        router = getattr(middleware, "router", None)
        if isinstance(router, Router) and (routes := _routes(router.routes)):
            out[type(middleware).__name__] = routes
    return out


def test_openapi_yaml_is_a_valid_openapi_30_document():
    spec = load_spec()
    assert re.fullmatch(r"3\.0\.\d+", spec["openapi"]), "connexion 3 needs OpenAPI 3.0.x"
    validate(spec)  # raises OpenAPIValidationError


def test_the_validator_does_reject_a_broken_spec():
    spec = load_spec()
    spec["paths"]["/health"]["get"]["responses"]["200"] = {"content": {}}  # no description
    try:
        validate(spec)
    except OpenAPIValidationError:
        return
    raise AssertionError("openapi-spec-validator accepted a response without description")


def test_app_serves_exactly_the_spec_operations(tmp_path: Path):
    routes = served(Settings(claude_bin="claude", runtime_dir=tmp_path))
    api = set()
    for path, methods in routes["RoutingMiddleware"]:
        assert methods is not None, f"unexpected mounted app at {path}"
        path = re.sub(r"\{(\w+):path\}", r"{\1}", path)  # {model:path} allows "/" in ids
        # Starlette answers HEAD wherever it answers GET; that is not a separate operation.
        api |= {(m, path) for m in methods if not (m == "HEAD" and "GET" in methods)}
    expected = spec_operations(load_spec())
    assert api - expected == set(), "the app serves operations that openapi.yaml lacks"
    assert expected - api == set(), "openapi.yaml has operations the app does not serve"


def test_extra_routes_are_only_the_documented_ones(tmp_path: Path):
    routes = served(Settings(claude_bin="claude", runtime_dir=tmp_path))
    extras = {path for path, _ in routes.pop("SwaggerUIMiddleware")}
    assert set(routes) == {"RoutingMiddleware"}, f"unexpected routers: {set(routes)}"
    assert extras <= DOCUMENTED_EXTRAS, f"undocumented extra routes: {extras - DOCUMENTED_EXTRAS}"
    readme = (SPEC_PATH.parent / "README.md").read_text(encoding="utf-8")
    assert "/openapi.json" in readme and "/ui/" in readme


def test_served_spec_is_the_file(proxy: RunningProxy):
    """What users point their own schemathesis at (README) is the same contract."""
    served_spec = httpx.get(f"{proxy.url}/openapi.json").json()
    spec = load_spec()
    assert spec_operations(served_spec) == spec_operations(spec)
    assert served_spec["info"]["version"] == spec["info"]["version"]
    assert set(served_spec["components"]["schemas"]) == set(spec["components"]["schemas"])
    # connexion would serve `[{"url": ""}]`, an empty entry in Swagger UI's server list.
    assert served_spec["servers"] == [{"url": "/", "description": "This proxy"}]
    assert spec["servers"][0]["url"] == "/"


def test_unknown_routes_and_methods_get_the_error_envelope(http: httpx.Client):
    """The contract guard checks these too: 404/405 with `{"error": ...}` outside the spec."""
    for method, path, status in [
        ("GET", "/v1/embeddings", 404),
        ("GET", "/v1/chat/completions", 405),
        ("DELETE", "/v1/models", 405),
        ("POST", "/health", 405),
    ]:
        r = http.request(method, path)
        assert r.status_code == status, (method, path, r.text)
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
