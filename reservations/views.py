from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from reservations.selectors import booking_list_for_user


@login_required
def my_bookings(request):
    bookings = booking_list_for_user(user=request.user)
    return render(request, "reservations/my_bookings.html", {"bookings": bookings})
