"""The OpenAPI 3.1 document of the HTTP API, built from the msgspec request types so the
two cannot drift; smsc/http/openapi.json is its output, kept in the repository (a test
checks they match). Regenerate with `python -m smsc.http.openapi > smsc/http/openapi.json`.
"""
from __future__ import annotations

import json
from typing import Any

import msgspec

from smsc import __version__
from smsc.http.messages import OptOutRequest, PreviewRequest, SendRequest

_JSON = "application/json"


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok(description: str, schema: dict[str, Any] | None = None, media: str = _JSON) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema or {"type": "object"}}}}


_REFUSALS = {"400": _error("Not JSON"), "401": _error("No valid API key"),
             "403": _error("Address, sender or recipient not allowed"), "413": _error("Body too large"),
             "422": _error("A field is invalid (error.field names it)"), "429": _error("Over the account's rate")}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{1,16}$"}}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {_JSON: {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def document() -> dict[str, Any]:
    (_, _, _), components = msgspec.json.schema_components((SendRequest, PreviewRequest, OptOutRequest),
                                                           ref_template="#/components/schemas/{name}")
    components["Error"] = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}}}}
    authed = {"security": [{"bearer": []}]}
    query = [{"name": name, "in": "query", "required": False, "schema": schema} for name, schema in (
        ("client_ref", {"type": "string"}), ("since", {"type": "number"}), ("until", {"type": "number"}),
        ("after", {"type": "string", "pattern": "^[0-9a-f]{1,16}$"}),
        ("limit", {"type": "integer", "minimum": 1, "maximum": 1000}))]
    paths = {
        "/v1/messages": {
            "post": {**authed, "summary": "Send a message to one or many numbers", "requestBody": _body("SendRequest"),
                     "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                     "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
                     "responses": {"201": _ok("Stored (committed): ids, encoding, parts"), **_REFUSALS,
                                   "503": _error("The store could not commit")}},
            "get": {**authed, "summary": "Messages by client_ref or time range, paged", "parameters": query,
                    "responses": {"200": _ok("A page of messages"), "401": _REFUSALS["401"],
                                  "422": _REFUSALS["422"]}}},
        "/v1/messages/{id}": {
            "parameters": [_ID],
            "get": {**authed, "summary": "State, history, parts and receipts of a message",
                    "responses": {"200": _ok("The message"), "401": _REFUSALS["401"], "404": _error("No such message")}},
            "delete": {**authed, "summary": "Cancel a message not sent yet",
                       "responses": {"200": _ok("Cancelled"), "401": _REFUSALS["401"],
                                     "404": _error("No such message"), "409": _error("Sent or final already")}}},
        "/v1/preview": {"post": {**authed, "summary": "Encoding and parts of a text, without sending",
                                 "requestBody": _body("PreviewRequest"),
                                 "responses": {"200": _ok("The count"), **_REFUSALS}}},
        "/v1/optouts": {
            "get": {**authed, "summary": "Opt-outs (JSON, or CSV with Accept: text/csv)",
                    "responses": {"200": _ok("The opt-outs"), "401": _REFUSALS["401"]}},
            "post": {**authed, "summary": "Record an opt-out (JSON) or import many (text/csv)",
                     "requestBody": {"required": True, "content": {
                         _JSON: {"schema": {"$ref": "#/components/schemas/OptOutRequest"}},
                         "text/csv": {"schema": {"type": "string"}}}},
                     "responses": {"201": _ok("Recorded"), **_REFUSALS}}},
        "/v1/optouts/{handset}": {"delete": {
            **authed, "summary": "Opt a handset back in",
            "parameters": [{"name": "handset", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "sender", "in": "query", "required": False, "schema": {"type": "string"}}],
            "responses": {"204": {"description": "Opted in"}, "401": _REFUSALS["401"], "422": _REFUSALS["422"]}}},
        "/v1/consent-audit": {"get": {
            **authed, "summary": "The append-only consent audit as CSV",
            "parameters": [{"name": "since", "in": "query", "required": False, "schema": {"type": "number"}}],
            "responses": {"200": _ok("CSV", {"type": "string"}, "text/csv"), "401": _REFUSALS["401"]}}},
        "/v1/webhooks/dead-letters": {"get": {
            **authed, "summary": "Webhook events given up on",
            "responses": {"200": _ok("Dead letters"), "401": _REFUSALS["401"]}}},
        "/v1/mo-routes/{route}/dead-letters": {"get": {
            **authed, "summary": "Dead letters of an MO route's webhook; the bearer is the route's webhook_secret",
            "parameters": [{"name": "route", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _ok("Dead letters"), "401": _error("No such route or not its secret")}}},
        "/healthz": {"get": {"summary": "The process answers", "responses": {"200": _ok("ok")}}},
        "/readyz": {"get": {"summary": "Store writable and listeners up",
                            "responses": {"200": _ok("ready"), "503": _ok("not ready")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics",
                             "responses": {"200": _ok("text exposition", {"type": "string"}, "text/plain")}}},
    }
    return {"openapi": "3.1.0",
            "info": {"title": "smsc HTTP API", "version": __version__,
                     "description": "Send SMS, follow their state, receive receipts and replies by webhook."},
            "paths": paths,
            "components": {"schemas": components,
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
