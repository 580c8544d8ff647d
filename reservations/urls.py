from django.urls import path

from reservations import views

app_name = "reservations"
urlpatterns = [
    path("", views.my_bookings, name="my_bookings"),
    path("new/", views.booking_create, name="booking_create"),
    # Where log-in or sign-up returns a guest who pressed Reserve while logged out.
    path("resume/", views.booking_resume, name="booking_resume"),
    path("<int:booking_id>/", views.booking_detail, name="booking_detail"),
    path("<int:booking_id>/cancel/", views.booking_cancel, name="booking_cancel"),
    path("<int:booking_id>/guests/", views.booking_guest_add, name="booking_guest_add"),
    path("<int:booking_id>/guests/<int:guest_id>/remove/", views.booking_guest_remove, name="booking_guest_remove"),
    path("<int:booking_id>/guests/<int:guest_id>/invite/", views.booking_guest_invite, name="booking_guest_invite"),
]
