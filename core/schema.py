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
            if method in {"post", "put", "patch"}:
                # DRF's answer to a body whose Content-Type is missing or not JSON/form/multipart.
                responses.setdefault(
                    "415", {"description": "unsupported_media_type: send JSON (or a form)", "content": error_ref}
                )
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


# How a client goes from one answer to the next operations (OpenAPI "links"), so that a
# generated client or a stateful tester can follow them: operationId -> (the success
# status, {path parameter: where its value is in that answer}). Every operation whose path
# parameters are exactly those (and, for nested paths, those of the request) is linked.
LINKS = {
    "booking_list_create_post": ("201", {"booking_id": "$response.body#/id"}),
    "booking_list_create": ("200", {"booking_id": "$response.body#/results/0/id"}),
    "booking_detail": ("200", {"booking_id": "$response.body#/id"}),
    "booking_payment_list_create_post": (
        "202",
        {"payment_id": "$response.body#/id", "booking_id": "$response.body#/booking"},
    ),
    "booking_payment_list_create": ("200", {"payment_id": "$response.body#/results/0/id"}),
    "payment_detail": ("200", {"booking_id": "$response.body#/booking"}),
    "property_list": ("200", {"property_id": "$response.body#/results/0/id"}),
    "property_detail": ("200", {"property_id": "$response.body#/id"}),
    "calendar_feed_list_create_post": (
        "201",
        {"import_id": "$response.body#/id", "property_id": "$request.path.property_id"},
    ),
}


def _path_parameters(path: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", path))


def add_links(result, generator, request, public):
    """Declare LINKS on the answers they start from (docs/api.md: the schema is good enough
    to generate a client from)."""
    operations = [
        (path, method, operation)
        for path, methods in result.get("paths", {}).items()
        for method, operation in methods.items()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    for _path, _method, operation in operations:
        spec = LINKS.get(operation["operationId"])
        if spec is None:
            continue
        status, values = spec
        response = operation.get("responses", {}).get(status)
        if response is None:
            continue
        links = {}
        for target_path, _target_method, target in operations:
            wanted = _path_parameters(target_path)
            if not wanted or target is operation or not wanted <= set(values):
                continue
            links[target["operationId"]] = {
                "operationId": target["operationId"],
                "parameters": {name: values[name] for name in sorted(wanted)},
                "description": f"{target.get('summary') or target['operationId']} for this answer's "
                + ", ".join(sorted(wanted)),
            }
        if links:
            response["links"] = dict(sorted(links.items()))
    return result
