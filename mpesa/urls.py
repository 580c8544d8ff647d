from django.urls import path

from mpesa import views

app_name = "mpesa"
urlpatterns = [
    path("callback/<str:token>/", views.stk_callback, name="callback"),
]
