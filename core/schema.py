"""OpenAPI schema tweaks for drf-spectacular."""

import re

from drf_spectacular.openapi import AutoSchema


class NexusAutoSchema(AutoSchema):
    """Names derived from our one-APIView-per-operation style (STYLE.md).

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
