"""OpenAPI schema tweaks for drf-spectacular."""

import re

from drf_spectacular.openapi import AutoSchema


class NexusAutoSchema(AutoSchema):
    """Names derived from our one-APIView-per-operation style.

    - Nested serializers are named after their view (RegisterApi.InputSerializer ->
      RegisterInput): every view nests its own InputSerializer/OutputSerializer, so
      the bare class names collide.
    - Operation ids come from the view class (BookingListApi -> booking_list): list and
      detail views share a path prefix, so path-derived ids collide.
    """

    def get_serializer_name(self, serializer, direction):
        cls = serializer if isinstance(serializer, type) else serializer.__class__
        parts = cls.__qualname__.split(".")
        if len(parts) > 1:
            outer = parts[0].removesuffix("Api").removesuffix("View")
            return outer + parts[-1]
        return super().get_serializer_name(serializer, direction)

    def get_operation_id(self):
        name = self.view.__class__.__name__
        if name.endswith("Api"):
            base = re.sub(r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Api")).lower()
            if len(self.view.allowed_methods) > 2 and self.method.lower() != "get":
                return f"{base}_{self.method.lower()}"
            return base
        return super().get_operation_id()


def only_public_api(endpoints, **kwargs):
    """Document the /api/ contract only, not Wagtail's internal admin API."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/")]


ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail", "code"],
}
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": 'Field errors ({"field": ["message"]}) or {"detail", "code"} for whole-request errors.',
    "additionalProperties": True,
}


def add_error_responses(result, generator, request, public):
    """Document the error answers every operation can give (docs/api.md conventions).

    Views declare their success bodies; the error shapes are the same everywhere:
    400 field errors, 401 without credentials, 404 for objects that are not yours,
    409 for business-rule refusals, 422 for an Idempotency-Key reused with another
    body (operations that take the header), 429 when throttled.
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    schemas.setdefault("FieldErrors", FIELD_ERRORS_SCHEMA)
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    field_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/FieldErrors"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            has_input = method in {"post", "put", "patch"} or any(
                p.get("in") == "query" for p in operation.get("parameters", [])
            )
            if has_input:
                responses.setdefault("400", {"description": "Invalid input", "content": field_ref})
            if operation.get("security") and {} not in operation["security"]:
                responses.setdefault("401", {"description": "Not authenticated", "content": error_ref})
                responses.setdefault("403", {"description": "Not allowed", "content": error_ref})
            if "{" in path:
                responses.setdefault("404", {"description": "Not found (or not yours)", "content": error_ref})
            if method == "post":
                responses.setdefault("409", {"description": "Refused by a business rule", "content": error_ref})
                responses.setdefault("429", {"description": "Throttled", "content": error_ref})
            if any(
                p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key"
                for p in operation.get("parameters", [])
            ):
                responses.setdefault(
                    "422",
                    {"description": "idempotency_key_reused: the key was used with another body", "content": error_ref},
                )
    return result
