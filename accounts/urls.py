from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("language/", views.set_language, name="set_language"),
    path("account/", views.account, name="account"),
    path("account/sms/", views.account_sms, name="account_sms"),
    path("account/payout/", views.account_payout, name="account_payout"),
    path("account/data/", views.account_data, name="account_data"),
    path("account/delete/", views.account_delete, name="account_delete"),
    path("users/<int:user_id>/id-photo/", views.id_photo, name="id_photo"),
]
