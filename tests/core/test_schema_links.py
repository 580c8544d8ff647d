"""The OpenAPI schema's links (core.schema.add_links): a generated client or a stateful
tester can go from a created booking to its operations and from a payment to its status."""

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    return {
        operation["operationId"]: (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if isinstance(operation, dict) and "operationId" in operation
    }


def _resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _field_exists(schema, response, pointer: str) -> bool:
    """`#/results/0/id` exists in the response's JSON schema."""
    node = _resolve(schema, response["content"]["application/json"]["schema"])
    for part in pointer.strip("/").split("/"):
        if part.isdigit():
            node = _resolve(schema, node["items"])
        else:
            node = _resolve(schema, node["properties"][part])
    return True


def test_a_new_booking_links_to_every_operation_on_it(schema):
    operations = _operations(schema)
    _path, _method, create = operations["booking_list_create_post"]
    links = create["responses"]["201"]["links"]
    for target in ("booking_detail", "booking_cancel", "booking_cancellation", "booking_payment_list_create_post"):
        assert links[target]["parameters"] == {"booking_id": "$response.body#/id"}


def test_a_payment_request_links_to_the_payment_status(schema):
    _path, _method, pay = _operations(schema)["booking_payment_list_create_post"]
    assert pay["responses"]["202"]["links"]["payment_detail"]["parameters"] == {"payment_id": "$response.body#/id"}


def test_every_link_names_a_real_operation_and_a_real_answer_field(schema):
    operations = _operations(schema)
    seen = 0
    for _path, _method, operation in operations.values():
        for response in operation["responses"].values():
            for name, link in response.get("links", {}).items():
                target_path, _m, _target = operations[link["operationId"]]
                for parameter, expression in link["parameters"].items():
                    assert "{" + parameter + "}" in target_path
                    if expression.startswith("$response.body#"):
                        assert _field_exists(schema, response, expression.split("#", 1)[1]), (name, expression)
                    seen += 1
    assert seen >= 20
