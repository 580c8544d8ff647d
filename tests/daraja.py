"""Point the Daraja client at the simulator a live test server serves, for tests that pay over real HTTP."""


def use_the_simulator(settings, server_url: str, *, callback_token: str) -> None:
    """The M-Pesa settings for the simulator at `server_url`/simulator, with callbacks back to
    `server_url`; `settings` is pytest-django's fixture (restored after the test). The cache is
    cleared so no OAuth token from another test's simulator is reused."""
    from django.core.cache import cache

    settings.MPESA_BASE_URL = server_url + "/simulator"
    settings.MPESA_CALLBACK_BASE_URL = server_url
    settings.MPESA_CALLBACK_TOKEN = callback_token
    settings.MPESA_CONSUMER_KEY = settings.MPESA_SIMULATOR_CONSUMER_KEY
    settings.MPESA_CONSUMER_SECRET = settings.MPESA_SIMULATOR_CONSUMER_SECRET
    settings.MPESA_SHORTCODE = settings.MPESA_SIMULATOR_SHORTCODE
    settings.MPESA_PASSKEY = settings.MPESA_SIMULATOR_PASSKEY
    settings.MPESA_HTTP_TIMEOUT = 5
    cache.clear()
