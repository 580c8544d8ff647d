"""Admin panels of the listing editor that are more than a field: the location map.

Kept apart from listings.models, which uses them in its panel definitions, so this module
must not import the models.
"""

from django.conf import settings
from wagtail.admin.panels import Panel

# OpenStreetMap's own tile server (https://operations.osmfoundation.org/policies/tiles/): fine
# for an editor used by a handful of owners; a busier site sets MAP_TILE_URL to a paid provider.
DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_TILE_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
# Nairobi, at a zoom that shows most of Kenya, until the property has a pin.
DEFAULT_CENTER = (-1.286389, 36.817223)
DEFAULT_ZOOM = 6
PINNED_ZOOM = 15


class LocationMapPanel(Panel):
    """A map (Leaflet, OpenStreetMap tiles) on which a click or a dragged pin writes the
    latitude and longitude fields.

    The two fields stay ordinary, editable inputs rendered by their own FieldPanels: the map
    only reads and writes them in the browser, so the form validates and saves exactly what it
    did without the map, and someone who cannot use a map types the numbers.
    """

    def __init__(self, latitude_field="latitude", longitude_field="longitude", **kwargs):
        super().__init__(**kwargs)
        self.latitude_field = latitude_field
        self.longitude_field = longitude_field

    def clone_kwargs(self):
        kwargs = super().clone_kwargs()
        kwargs.update(latitude_field=self.latitude_field, longitude_field=self.longitude_field)
        return kwargs

    @property
    def clean_name(self):
        return super().clean_name or "location_map"

    class BoundPanel(Panel.BoundPanel):
        template_name = "listings/admin/location_map_panel.html"

        class Media:
            css = {"all": ["vendor/leaflet/leaflet.css", "listings/admin/location-map.css"]}
            js = ["vendor/leaflet/leaflet.js", "listings/admin/location-map.js"]

        def is_shown(self):
            # Without both inputs (a form that leaves them out) there is nothing to write to.
            fields = self.form.fields
            return self.panel.latitude_field in fields and self.panel.longitude_field in fields

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            context.update(
                map_id=f"{self.prefix}-map",
                latitude_id=self.form[self.panel.latitude_field].auto_id,
                longitude_id=self.form[self.panel.longitude_field].auto_id,
                tile_url=getattr(settings, "MAP_TILE_URL", DEFAULT_TILE_URL),
                tile_attribution=getattr(settings, "MAP_TILE_ATTRIBUTION", DEFAULT_TILE_ATTRIBUTION),
                default_center=f"{DEFAULT_CENTER[0]},{DEFAULT_CENTER[1]}",
                default_zoom=DEFAULT_ZOOM,
                pinned_zoom=PINNED_ZOOM,
            )
            return context
