from django.urls import path

from mpesa import views

app_name = "mpesa"
urlpatterns = [
    path("callback/<str:token>/", views.stk_callback, name="callback"),
    path("result/<str:token>/", views.transfer_result, name="result"),
    path("timeout/<str:token>/", views.transfer_timeout, name="timeout"),
]
