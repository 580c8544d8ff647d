from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "reservations"
    verbose_name = "Bookings"

    def ready(self):
        from accounts.roles import role_grants_register
        from accounts.selectors import id_photo_register_owner_check
        from core.demo import DemoOrder, DemoStep, demo_step_register
        from listings.page_context import property_page_part_register
        from listings.selectors import occupancy_register
        from reservations.availability import BOOKED_NIGHTS
        from reservations.demo import seed_bookings
        from reservations.notifications import booking_notifications_register
        from reservations.permissions import ROLE_GRANTS, booking_permission_policy_register
        from reservations.privacy import booking_personal_data_register
        from reservations.property_page import property_page_booking_box
        from reservations.selectors import owner_hosts_paying_guest

        # What reservations adds to the apps below it, which never import it (README "Layout").
        id_photo_register_owner_check(owner_hosts_paying_guest)
        booking_permission_policy_register()
        role_grants_register(ROLE_GRANTS)
        occupancy_register(BOOKED_NIGHTS)
        property_page_part_register(property_page_booking_box)
        booking_notifications_register()
        booking_personal_data_register()
        demo_step_register(
            DemoStep(
                order=DemoOrder.BOOKINGS,
                provides="bookings",
                seed=seed_bookings,
                needs=("users", "properties"),
                counted_as="bookings",
            )
        )
