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

    Also declares the input rules validators enforce (add_constraints, below): this hook
    is the one every schema goes through.
    """
    add_constraints(result)
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


# --- What the API enforces on input, declared in the schema ------------------------------
# Serializer fields give types and lengths; the rules below live in validators
# (core.phones, AUTH_PASSWORD_VALIDATORS, DRF's CharField trimming and null-character
# check) that drf-spectacular cannot see. Declaring them lets a client (or a generator
# such as schemathesis) produce input the API accepts; tests/core/test_schema_constraints.py
# checks that the two agree.

# Kenya's mobile ranges (libphonenumber's KE mobile pattern) that M-Pesa takes: 07XX and
# 01XX numbers, as 0XXXXXXXXX, 254XXXXXXXXX, +254XXXXXXXXX or XXXXXXXXX, optionally with
# a space or dash after the prefix and between the digit groups (core.phones).
_KE_MOBILE = r"(?:1(?:0[0-8]|[18][0-9]|2[014]|3[05-9]|4[0-6])|7[0-9][0-9])[ -]?[0-9]{3}[ -]?[0-9]{3}"
PHONE_PATTERN = rf"^(?:(?:\+?254|0)[ -]?)?{_KE_MOBILE}$"
PHONE_OR_BLANK_PATTERN = rf"^(?:(?:(?:\+?254|0)[ -]?)?{_KE_MOBILE})?$"
PHONE_DESCRIPTION = (
    "A Kenyan mobile number M-Pesa takes (07XX or 01XX): 0712345678, 254712345678, +254712345678 "
    "or 712345678; spaces or dashes between the groups are fine (0712 345 678)."
)
# DRF strips leading and trailing whitespace and refuses NUL characters in every CharField:
# a name must have something other than whitespace.
NOT_BLANK_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"
NO_NUL_PATTERN = r"^[^\x00]*$"
# AUTH_PASSWORD_VALIDATORS: at least 8 characters, not all digits, not a common password,
# not too like the account's name or email.
PASSWORD_PATTERN = r"^[^\x00]*[^0-9\x00][^\x00]*$"
PASSWORD_DESCRIPTION = (
    "At least 8 characters, not only digits, not a commonly used password and not too similar "
    "to your name or email (a 400 on `password` says which rule failed)."
)
DATES_DESCRIPTION = (
    "check_in is today (Africa/Nairobi) or later; check_out is after check_in, within the "
    "listing's minimum and maximum stay (at most 365 nights). A stay that overlaps another "
    "booking is refused with 409."
)

# component -> property -> what to add (merged into drf-spectacular's own declaration).
INPUT_CONSTRAINTS = {
    "RegisterInputRequest": {
        "name": {"pattern": NOT_BLANK_PATTERN},
        "phone_number": {"pattern": PHONE_PATTERN, "description": PHONE_DESCRIPTION},
        "password": {"minLength": 8, "pattern": PASSWORD_PATTERN, "description": PASSWORD_DESCRIPTION},
    },
    "TokenObtainInputRequest": {"password": {"pattern": NO_NUL_PATTERN}},
    "MeDeleteInputRequest": {"password": {"pattern": NO_NUL_PATTERN}},
    "BookingListCreateInputRequest": {
        "check_in": {"description": DATES_DESCRIPTION},
        "check_out": {"description": "A date after check_in (see check_in)."},
        "guests": {
            "maxItems": 49,
            "description": "Co-guests besides you; with you, at most the listing's max_guests.",
        },
    },
    "BookingListCreateGuestRequest": {
        "name": {"pattern": NOT_BLANK_PATTERN},
        "phone_number": {"pattern": PHONE_OR_BLANK_PATTERN, "description": PHONE_DESCRIPTION + " Or blank."},
    },
    "BookingGuestCreateInputRequest": {
        "name": {"pattern": NOT_BLANK_PATTERN},
        "phone_number": {"pattern": PHONE_OR_BLANK_PATTERN, "description": PHONE_DESCRIPTION + " Or blank."},
    },
    "BookingPaymentCreateInputRequest": {
        "phone_number": {"pattern": PHONE_PATTERN, "description": "The phone that gets the M-Pesa prompt. " + PHONE_DESCRIPTION},
        "amount": {"description": "Whole shillings, at least 1 and at most the booking's balance (and KES 250,000)."},
    },
    "BookingCancelInputRequest": {"reason": {"pattern": NO_NUL_PATTERN}},
    "InvitationAcceptInputRequest": {"token": {"pattern": NO_NUL_PATTERN}},
    "CalendarFeedListCreateInputRequest": {
        "url": {"pattern": r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[^\x00]*$", "format": "uri"},
    },
    "PatchedMeInputRequest": {
        "payout_phone_number": {"pattern": PHONE_OR_BLANK_PATTERN},
        "payout_business_number": {"pattern": r"^\s*(?:[0-9]\s*){5,7}$|^$"},
        "payout_account_reference": {"pattern": r"^(?:|\s*[A-Za-z0-9][A-Za-z0-9 /-]{0,19}\s*)$"},
    },
}
INPUT_DESCRIPTIONS = {
    "PatchedMeInputRequest": (
        "Send sms_notifications, or a payout destination (hosts only): payout_method with the fields "
        "it uses: mpesa -> payout_phone_number; paybill -> payout_business_number and "
        "payout_account_reference; till -> payout_business_number."
    ),
}


def _register_json_body_without_file(result):
    """A JSON or form-encoded sign-up cannot carry the ID photo (a file): only multipart can.
    Those media types get the same body without `id_photo`."""
    schemas = result.get("components", {}).get("schemas", {})
    full = schemas.get("RegisterInputRequest")
    operation = result.get("paths", {}).get("/api/auth/register/", {}).get("post")
    if not full or not operation or "id_photo" not in full.get("properties", {}):
        return
    without_file = {**full, "properties": {k: v for k, v in full["properties"].items() if k != "id_photo"}}
    without_file["description"] = "Sign-up without the ID photo (send multipart/form-data to include it)."
    schemas["RegisterInputJsonRequest"] = without_file
    for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
        if media_type != "multipart/form-data":
            content["schema"] = {"$ref": "#/components/schemas/RegisterInputJsonRequest"}


def add_constraints(result, generator=None, request=None, public=None):
    """Merge INPUT_CONSTRAINTS into the request components (see the comment above it)."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, fields in INPUT_CONSTRAINTS.items():
        component = schemas.get(name)
        if component is None:
            continue
        for field_name, extra in fields.items():
            declared = component.get("properties", {}).get(field_name)
            if declared is None:
                continue
            # Fields declared as oneOf/allOf keep their shape; the rule goes on each string branch.
            targets = [b for b in declared.get("oneOf", []) if b.get("type") == "string"] or [declared]
            for target in targets:
                target.update({k: v for k, v in extra.items() if k != "description"})
            if "description" in extra:
                declared["description"] = extra["description"]
    for name, description in INPUT_DESCRIPTIONS.items():
        if name in schemas:
            schemas[name]["description"] = description
    if "PatchedMeInputRequest" in schemas:
        schemas["PatchedMeInputRequest"]["minProperties"] = 1  # an empty PATCH is refused
    _register_json_body_without_file(result)
    return result
