from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Nexus core"

    def ready(self):
        from django.contrib.auth.signals import user_login_failed

        from core.throttling import count_failed_sign_in

        user_login_failed.connect(count_failed_sign_in, dispatch_uid="core.count_failed_sign_in")

        from core.logging import task_logging_connect

        # django-q2 tasks log with a task-scoped request id (and the enqueuing request's).
        task_logging_connect()

        from django.core.checks import register

        from core.storage import check_media_storage

        # On Render, media on the service's disk are lost at each deploy (core/storage.py).
        register(check_media_storage)
