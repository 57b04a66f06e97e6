"""connexion's JSON body validator, changed to name the failing field (`param`).

Stock connexion folds a jsonschema error into a string before any error handler sees it, and
turns a non-UTF-8 body into a 500; both are fixed here.
"""

from __future__ import annotations

from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.validators import (
    FormDataValidator,
    JSONRequestBodyValidator,
    MultiPartFormDataValidator,
)
from jsonschema import ValidationError
from jsonschema.exceptions import best_match

from .errors import ParamBadRequest


def param_from_error(exc: ValidationError) -> str | None:
    """`messages.0.role`-style path of the field a jsonschema error is about."""
    path = list(exc.absolute_path)
    wanted = exc.validator_value
    if exc.validator == "required" and isinstance(exc.instance, dict):
        names = wanted if isinstance(wanted, list) else []
        missing = [k for k in names if k not in exc.instance]
        path += missing[:1]
    return ".".join(str(p) for p in path) or None


def message_from_error(exc: ValidationError) -> str:
    best = exc
    if exc.context:  # anyOf/oneOf: report the most specific branch error
        best = max(exc.context, key=lambda e: len(list(e.absolute_path)))
    param = param_from_error(exc)
    where = f" - '{param}'" if param else ""
    return f"{best.message}{where}"


class OpenAIJSONBodyValidator(JSONRequestBodyValidator):  # type: ignore[misc]  # untyped base
    async def _parse(self, stream: Any, scope: Any) -> Any:
        try:
            return await super()._parse(stream, scope)
        except UnicodeDecodeError as exc:
            raise ParamBadRequest(f"Request body is not valid UTF-8: {exc.reason}") from None
        except ParamBadRequest:
            raise
        except BadRequestProblem as exc:
            raise ParamBadRequest(
                f"We could not parse the JSON body of your request: {exc.detail}"
            ) from None

    def _validate(self, body: Any) -> Any:
        if not self._nullable and body is None:
            raise ParamBadRequest("Request body must not be empty")
        error = best_match(self._validator.iter_errors(body))
        if error is not None:
            raise ParamBadRequest(message_from_error(error), param_from_error(error))
        return body


VALIDATOR_MAP = {
    "body": MediaTypeDict(
        {
            "*/*json": OpenAIJSONBodyValidator,
            "application/x-www-form-urlencoded": FormDataValidator,
            "multipart/form-data": MultiPartFormDataValidator,
        }
    )
}
