"""Template filters for the back office: the same formats as the admin list columns
(core/admin_views.py) and the audit trail's "what changed"."""

import json

from django import template

from core.admin_views import format_day, format_kes, format_moment

register = template.Library()

register.filter("kes", format_kes)
register.filter("day", format_day)
register.filter("moment", format_moment)


def _show(value) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return str(value)


@register.filter
def audit_changes(entry) -> list[dict]:
    """The fields an audit entry changed: [{"field", "before", "after"}] (display strings).

    Services store whole snapshots before and after a change; staff need the difference.
    A field counts as changed when `after` holds it with another value than `before`
    (a field `after` leaves out was not recorded, not cleared). With nothing before
    (a creation, a flag raised) every value in `after` is shown, with "before" None;
    with nothing after (a snapshot taken when an action was asked for) every value in
    `before` is, with "after" None.
    """
    before, after = entry.before or {}, entry.after or {}
    if not before:
        return [{"field": k, "before": None, "after": _show(v)} for k, v in after.items()]
    if not after:
        return [{"field": k, "before": _show(v), "after": None} for k, v in before.items()]
    return [
        {"field": k, "before": _show(before.get(k)), "after": _show(v)}
        for k, v in after.items()
        if k not in before or before[k] != v
    ]
