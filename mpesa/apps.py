from django.apps import AppConfig


class MpesaConfig(AppConfig):
    name = "mpesa"
    verbose_name = "M-Pesa payments"

    def ready(self):
        from accounts.roles import role_grants_register
        from core.demo import demo_step_register
        from mpesa.demo import DEMO_STEP
        from mpesa.health import payment_health_checks_register
        from mpesa.notifications import payment_notifications_register
        from mpesa.permissions import ROLE_GRANTS, payment_permission_policy_register
        from mpesa.privacy import payment_personal_data_register
        from mpesa.refunds_out import refunds_for_cancellation
        from mpesa.site_context import booking_page_payments
        from reservations.signals import booking_canceled
        from reservations.site_context import booking_page_part_register

        # What mpesa adds to the apps below it, which never import it (README "Layout").
        payment_permission_policy_register()
        role_grants_register(ROLE_GRANTS)
        payment_notifications_register()
        from mpesa.payout_notifications import payout_notifications_register

        payout_notifications_register()
        payment_personal_data_register()
        demo_step_register(DEMO_STEP)
        booking_page_part_register(booking_page_payments)
        payment_health_checks_register()

        # A cancelled booking's money still held goes back through Daraja per the listing's
        # cancellation policy (reservations never touches payment rows): mpesa.refunds_out.
        booking_canceled.connect(refunds_for_cancellation, dispatch_uid="mpesa.refunds_for_cancellation")
