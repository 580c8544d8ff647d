from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Nexus core"

    def ready(self):
        from django.contrib.auth.signals import user_login_failed

        from core.throttling import count_failed_sign_in

        user_login_failed.connect(count_failed_sign_in, dispatch_uid="core.count_failed_sign_in")
