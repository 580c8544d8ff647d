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
        from mpesa.refunds import payments_flag_for_refund
        from mpesa.site_context import booking_page_payments
        from reservations.signals import booking_canceled
        from reservations.site_context import booking_page_part_register

        # What mpesa adds to the apps below it, which never import it (README "Layout").
        payment_permission_policy_register()
        role_grants_register(ROLE_GRANTS)
        payment_notifications_register()
        payment_personal_data_register()
        demo_step_register(DEMO_STEP)
        booking_page_part_register(booking_page_payments)
        payment_health_checks_register()

        # A cancelled booking's money still held is flagged for refund by the payments app
        # (reservations never touches payment rows).
        booking_canceled.connect(payments_flag_for_refund, dispatch_uid="mpesa.payments_flag_for_refund")
