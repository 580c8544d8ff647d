"""Template context for the public pages. Reads only: every figure comes from selectors."""


def home_page_context(*, page, request) -> dict:
    return {}


def listing_index_context(*, page, request) -> dict:
    return {}


def property_page_context(*, page, request) -> dict:
    return {}
