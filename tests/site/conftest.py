import pytest


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached page fragments from one test must not leak into the next (ids are reused)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
