from django.urls import path

from accounts.apis import MeApi, MeDataApi, MeDeleteApi, RegisterApi, TokenObtainApi

urlpatterns = [
    path("auth/register/", RegisterApi.as_view(), name="auth-register"),
    path("auth/token/", TokenObtainApi.as_view(), name="auth-token"),
    path("me/", MeApi.as_view(), name="me"),
    path("me/data/", MeDataApi.as_view(), name="me-data"),
    path("me/delete/", MeDeleteApi.as_view(), name="me-delete"),
]

from listings.apis import PropertyAvailabilityApi, PropertyDetailApi, PropertyListApi, PropertyQuoteApi  # noqa: E402
from reservations.apis import (  # noqa: E402
    BookingCancelApi,
    BookingCancellationApi,
    BookingDetailApi,
    BookingGuestCreateApi,
    BookingListCreateApi,
    InvitationAcceptApi,
)

urlpatterns += [
    path("properties/", PropertyListApi.as_view(), name="property-list"),
    path("properties/<int:property_id>/", PropertyDetailApi.as_view(), name="property-detail"),
    path("properties/<int:property_id>/availability/", PropertyAvailabilityApi.as_view(), name="property-availability"),
    path("properties/<int:property_id>/quote/", PropertyQuoteApi.as_view(), name="property-quote"),
    path("bookings/", BookingListCreateApi.as_view(), name="booking-list"),
    path("bookings/<int:booking_id>/", BookingDetailApi.as_view(), name="booking-detail"),
    path("bookings/<int:booking_id>/cancel/", BookingCancelApi.as_view(), name="booking-cancel"),
    path(
        "bookings/<int:booking_id>/cancellation/", BookingCancellationApi.as_view(), name="booking-cancellation"
    ),
    path("bookings/<int:booking_id>/guests/", BookingGuestCreateApi.as_view(), name="booking-guests"),
    path("invitations/accept/", InvitationAcceptApi.as_view(), name="invitation-accept"),
]

from mpesa.apis import (  # noqa: E402
    BookingPaymentListCreateApi,
    BookingRefundListApi,
    OwnerPayoutListApi,
    PaymentDetailApi,
)

urlpatterns += [
    path("bookings/<int:booking_id>/payments/", BookingPaymentListCreateApi.as_view(), name="booking-payments"),
    path("payments/<int:payment_id>/", PaymentDetailApi.as_view(), name="payment-detail"),
    path("bookings/<int:booking_id>/refunds/", BookingRefundListApi.as_view(), name="booking-refunds"),
    path("owner/payouts/", OwnerPayoutListApi.as_view(), name="owner-payouts"),
]

from listings.calendar.apis import CalendarFeedDeleteApi, CalendarFeedListCreateApi  # noqa: E402

urlpatterns += [
    path(
        "owner/properties/<int:property_id>/calendar-feeds/",
        CalendarFeedListCreateApi.as_view(),
        name="owner-calendar-feeds",
    ),
    path(
        "owner/properties/<int:property_id>/calendar-feeds/<int:import_id>/",
        CalendarFeedDeleteApi.as_view(),
        name="owner-calendar-feed-delete",
    ),
]
