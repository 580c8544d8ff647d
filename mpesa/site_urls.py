"""The booking page's payment views, under the booking's own paths (/bookings/<id>/...):
included next to reservations.urls in nexus/urls.py, namespace "payments"."""

from django.urls import path

from mpesa import site_views

app_name = "payments"
urlpatterns = [
    path("<int:booking_id>/status/", site_views.booking_status, name="booking_status"),
    path("<int:booking_id>/pay/", site_views.booking_pay, name="booking_pay"),
]
