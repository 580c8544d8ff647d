from django.urls import path

from accounts.apis import MeApi, RegisterApi, TokenObtainApi

urlpatterns = [
    path("auth/register/", RegisterApi.as_view(), name="auth-register"),
    path("auth/token/", TokenObtainApi.as_view(), name="auth-token"),
    path("me/", MeApi.as_view(), name="me"),
]
