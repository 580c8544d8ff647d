from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "reservations"
    verbose_name = "Bookings"

    def ready(self):
        from accounts.selectors import id_photo_register_owner_check
        from reservations.selectors import owner_hosts_paying_guest

        id_photo_register_owner_check(owner_hosts_paying_guest)
