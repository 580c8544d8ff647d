"""OpenAPI schema tweaks for drf-spectacular."""

from drf_spectacular.openapi import AutoSchema


class NexusAutoSchema(AutoSchema):
    """Name nested serializers after their view (RegisterApi.InputSerializer -> RegisterInput).

    Each APIView nests its own InputSerializer/OutputSerializer (STYLE.md), so the bare
    class names collide across views.
    """

    def get_serializer_name(self, serializer, direction):
        cls = serializer if isinstance(serializer, type) else serializer.__class__
        parts = cls.__qualname__.split(".")
        if len(parts) > 1:
            outer = parts[0].removesuffix("Api").removesuffix("View")
            return outer + parts[-1]
        return super().get_serializer_name(serializer, direction)


def only_public_api(endpoints, **kwargs):
    """Document the /api/ contract only, not Wagtail's internal admin API."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/")]
