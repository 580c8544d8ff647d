"""`{{ amount|kes }}` → "KES 10,800": whole shillings, thousands grouped with commas in every
language (a Kiswahili page reads money the same way as an English one)."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def kes(value) -> str:
    try:
        shillings = Decimal(str(value)).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    # Formatted here rather than with intcomma: the grouping must not depend on the locale.
    return f"KES {int(shillings):,}"
