"""How requests are read and their failures documented: JSON bodies the standard parser cannot
take, path identifiers, and the error responses each operation may give.

Every blueprint of the API is a ``Blueprint`` from here, so each body goes through ``JsonParser``.
"""

from __future__ import annotations

import json
import sys
from functools import wraps

import flask_smorest
from flask import request
from webargs.flaskparser import FlaskParser, abort
from werkzeug.routing import BaseConverter

from pflow.entrypoints.http.schemas import ErrorSchema

ERRORS = {
    400: "The body is not valid JSON (malformed, nested too deeply, or a number with too many digits)",
    401: "Not logged in, or the token is invalid or expired",
    403: "Your role may not do this (or it is your own ticket)",
    404: "No such ticket, or not one you may see",
    409: "Not allowed in the ticket's current status, or the ticket changed meanwhile",
    429: "Too many attempts: locked for a while; retry after Retry-After seconds",
    503: "A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. "
         "Retry after Retry-After seconds",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}


class JsonParser(FlaskParser):
    """webargs' Flask parser, answering 400 instead of 500 for JSON that ``json.loads`` cannot take.

    Python's parser recurses once per nesting level (about a thousand levels exhaust the stack) and
    refuses integers of more than ``sys.get_int_max_str_digits()`` digits with a bare ``ValueError``;
    neither is a ``JSONDecodeError``, which is all webargs turns into a 400.
    """

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except RecursionError:
            abort(400, messages={"json": ["The JSON body is nested too deeply."]})
        except ValueError:
            abort(400, messages={"json": [f"A number in the JSON body has more than {sys.get_int_max_str_digits()} "
                                          "digits."]})


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonParser()

    def arguments(self, schema, *, location="json", required=True, **kwargs):
        """flask-smorest's ``arguments``; a body declared required is refused when it is missing.

        webargs reads a missing (or non-JSON) body as ``{}``, so an edit without a body answered 200
        though the document says a body is required.
        """
        decorator = super().arguments(schema, location=location, required=required, **kwargs)
        if location != "json" or not required:
            return decorator

        def with_body_required(func):
            parsed = decorator(func)

            @wraps(parsed)
            def wrapper(*args, **kw):
                if not request.is_json or not request.get_data(cache=True):
                    abort(422, messages={"json": ["A JSON body is required (Content-Type: application/json)."]})
                return parsed(*args, **kw)

            return wrapper

        return with_body_required

    def errors(self, *statuses: int, **descriptions: str):
        """Document the error responses an operation may give, each with the API's error body."""

        def decorator(func):
            for status in statuses:
                description = descriptions.get(f"e{status}", ERRORS[status])
                func = self.alt_response(status, schema=ErrorSchema, description=description,
                                         headers=RETRY_AFTER if status in (429, 503) else None)(func)
            return func

        return decorator


# An identifier in a path: anything but "/" and NUL, which no ticket store can hold (PostgreSQL
# refuses it in text), so such a path is a 404 on every backend rather than a 500 on one.
ID_PATTERN = r"^[^/\x00]+$"


class IdConverter(BaseConverter):
    regex = r"[^/\x00]+"


def id_parameter_schema(converter: IdConverter) -> dict:
    return {"type": "string", "pattern": ID_PATTERN}
