"""Owners' calendar sync API (docs/api.md "Owners", docs/calendar-sync.md).

An owner manages the listings they own; staff, who manage every listing in the admin,
may do the same here. Another owner's listing or feed is a 404; a guest is refused (403).
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from listings.calendar.export import calendar_export_url
from listings.calendar.selectors import (
    calendar_feed_get_for_user,
    calendar_feeds_of,
    calendar_property_get_for_user,
)
from listings.calendar.services import (
    calendar_feed_create,
    calendar_feed_delete,
    calendar_feed_refusal,
)
from listings.permissions import sees_every_listing

NOT_FOUND = OpenApiResponse(description='Not your listing (or no such feed): {"detail", "code": "not_found"}')


class IsOwnerOrStaff(BasePermission):
    message = "Only a listing's owner manages its calendar sync."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (getattr(user, "is_owner", False) or sees_every_listing(user)))


class CalendarFeedOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    last_synced_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.SerializerMethodField()

    def get_last_error(self, feed) -> str | None:
        return feed.last_error or None


class CalendarFeedListCreateApi(APIView):
    """GET: the listing's export address and imported calendars. POST: import one more."""

    permission_classes = [IsAuthenticated, IsOwnerOrStaff]

    class InputSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=2000, help_text="The other site's iCal export address (http/https)")

        def validate_url(self, value: str) -> str:
            refusal = calendar_feed_refusal(property_id=self.context["property_id"], url=value)
            if refusal:
                raise serializers.ValidationError(refusal)
            return value.strip()

    class OutputSerializer(serializers.Serializer):
        export_url = serializers.CharField()
        imports = CalendarFeedOutputSerializer(many=True)

    @extend_schema(responses={200: OutputSerializer, 404: NOT_FOUND}, tags=["owners"])
    def get(self, request, property_id: int):
        page = calendar_property_get_for_user(user=request.user, property_id=property_id)
        body = {"export_url": calendar_export_url(request, page.pk), "imports": calendar_feeds_of(property_id=page.pk)}
        return Response(self.OutputSerializer(body).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: CalendarFeedOutputSerializer, 404: NOT_FOUND},
        tags=["owners"],
    )
    def post(self, request, property_id: int):
        page = calendar_property_get_for_user(user=request.user, property_id=property_id)
        payload = self.InputSerializer(data=request.data, context={"property_id": page.pk})
        payload.is_valid(raise_exception=True)
        feed = calendar_feed_create(property_id=page.pk, url=payload.validated_data["url"], actor=request.user)
        return Response(CalendarFeedOutputSerializer(feed).data, status=status.HTTP_201_CREATED)


class CalendarFeedDeleteApi(APIView):
    """Stop importing a calendar: its blocked dates are removed with it."""

    permission_classes = [IsAuthenticated, IsOwnerOrStaff]

    @extend_schema(responses={204: None, 404: NOT_FOUND}, tags=["owners"])
    def delete(self, request, property_id: int, import_id: int):
        feed = calendar_feed_get_for_user(user=request.user, property_id=property_id, feed_id=import_id)
        calendar_feed_delete(feed=feed, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
