"""The project's URLs plus the two baseline views, for the bench server only."""

from django.urls import path

from bench.baseline import insert_view, json_view
from nexus.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("__bench__/insert/", insert_view, name="bench-insert"),
    path("__bench__/json/", json_view, name="bench-json"),
    *project_urlpatterns,
]
