"""Filter sets for admin lists and reports, whose values come straight from the URL.

A model-choice filter looks its value up by key. Django hands an integer key to the
database as typed, so an id longer than the column can hold crashed the page: SQLite
raises OverflowError, PostgreSQL "integer out of range" wherever the value is cast to
the column's type. Every admin filter set derives from AdminFilterSet, which makes
each model-choice filter refuse such a key as an invalid choice before any query: the
form shows the error, and the list is simply not filtered by that field.
"""

import django_filters
from django.core.exceptions import ValidationError
from django.db import connections
from wagtail.admin.filters import WagtailFilterSet

_INTEGER_TYPES = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}


def key_fits_column(*, queryset, to_field_name: str | None, value) -> bool:
    """False when `value` cannot be a key of `queryset`'s model: not an integer, or outside
    the range the database column holds. Keys that are not integers are always accepted."""
    field = queryset.model._meta.get_field(to_field_name) if to_field_name else queryset.model._meta.pk
    while field.is_relation:  # a multi-table child's key is its parent link (Page pages)
        field = field.target_field
    internal_type = field.get_internal_type()
    if internal_type not in _INTEGER_TYPES:
        return True
    try:
        number = int(str(value).strip())
    except ValueError:  # also Python's limit on the length of an integer string
        return False
    low, high = connections[queryset.db].ops.integer_field_range(internal_type)
    return (low is None or number >= low) and (high is None or number <= high)


class _KeyCheck:
    def _check_key(self, key) -> None:
        is_null_choice = getattr(self, "null_label", None) is not None and key == getattr(self, "null_value", None)
        if key in self.empty_values or is_null_choice:
            return
        if not key_fits_column(queryset=self.queryset, to_field_name=self.to_field_name, value=key):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice", params={"value": key})


class _BoundedModelChoiceMixin(_KeyCheck):
    def to_python(self, value):
        self._check_key(value)
        return super().to_python(value)


class _BoundedModelMultipleChoiceMixin(_KeyCheck):
    def _check_values(self, value):
        for key in value:
            self._check_key(key)
        return super()._check_values(value)


_bounded_classes: dict[type, type] = {}


def _bounded(field_class: type, mixin: type) -> type:
    """The same form field class (Wagtail's or django-filter's), with the key check in front."""
    if issubclass(field_class, mixin):
        return field_class
    if field_class not in _bounded_classes:
        _bounded_classes[field_class] = type(f"Bounded{field_class.__name__}", (mixin, field_class), {})
    return _bounded_classes[field_class]


class BoundedChoicesMixin:
    """For a FilterSet: every model-choice filter, declared or added in __init__, checks keys first."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for filter_ in self.filters.values():  # per-instance deep copies of the declared filters
            if isinstance(filter_, django_filters.ModelMultipleChoiceFilter):
                filter_.field_class = _bounded(filter_.field_class, _BoundedModelMultipleChoiceMixin)
            elif isinstance(filter_, django_filters.ModelChoiceFilter):
                filter_.field_class = _bounded(filter_.field_class, _BoundedModelChoiceMixin)


class AdminFilterSet(BoundedChoicesMixin, WagtailFilterSet):
    """Base of every filter set in the admin (snippet lists, reports)."""
