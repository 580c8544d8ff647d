"""The "Calendar sync" panel of a listing's edit page: its export address (copy, regenerate)
and the calendars it imports. Declared in PropertyPage.content_panels; what it shows comes
from listings.calendar.admin_views, imported when the panel renders (that module reads the
models this one is imported by)."""

from wagtail.admin.panels import Panel


class CalendarSyncPanel(Panel):
    class BoundPanel(Panel.BoundPanel):
        template_name = "listings/admin/calendar_sync_panel.html"

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            context["page"] = self.instance
            if self.instance is not None and self.instance.pk and self.request is not None:
                from listings.calendar.admin_views import calendar_sync_panel_context

                context.update(calendar_sync_panel_context(request=self.request, page=self.instance))
            return context
