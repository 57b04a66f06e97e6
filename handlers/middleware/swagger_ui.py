"""connexion's Swagger UI and served spec, with a server entry Swagger UI can show and use.

connexion replaces the spec's `servers` with the mount prefix it is served under: `""` at the
root, which Swagger UI lists as an empty, unlabelled server. `/` (or the prefix) is the same
place, named.
"""

from __future__ import annotations

from typing import Any

from connexion.middleware import ConnexionMiddleware
from connexion.middleware import swagger_ui as connexion_swagger_ui
from starlette.requests import Request


class _SwaggerUIAPI(connexion_swagger_ui.SwaggerUIAPI):  # type: ignore[misc]  # untyped base
    def _spec_for_prefix(self, request: Request) -> dict[str, Any]:
        spec: dict[str, Any] = super()._spec_for_prefix(request)
        prefix = self._base_path_for_prefix(request)
        return {**spec, "servers": [{"url": prefix or "/", "description": "This proxy"}]}


class SwaggerUIMiddleware(connexion_swagger_ui.SwaggerUIMiddleware):  # type: ignore[misc]
    """connexion's middleware (same name, same routes), serving the spec with a named server."""

    def add_api(
        self,
        specification: Any,
        base_path: str | None = None,
        arguments: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        api = _SwaggerUIAPI(
            specification,
            base_path=base_path,
            arguments=arguments,
            default=self.default_fn,
            **kwargs,
        )
        self.router.mount(api.base_path, app=api.router)


def middlewares() -> list[Any]:
    """connexion's default stack with this Swagger UI middleware in its place (a new list:
    connexion inserts added middlewares into it)."""
    base = connexion_swagger_ui.SwaggerUIMiddleware
    default = ConnexionMiddleware.default_middlewares
    return [SwaggerUIMiddleware if m is base else m for m in default]
