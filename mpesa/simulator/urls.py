"""Mounted at /simulator/ only when MPESA_ENV == "simulator" (nexus/urls.py).

Daraja's paths under the prefix are Daraja's own, so MPESA_BASE_URL can point here.
"""

from django.urls import path

from mpesa.simulator import views

app_name = "simulator"
urlpatterns = [
    # Daraja
    path("oauth/v1/generate", views.oauth_generate, name="oauth"),
    path("mpesa/stkpush/v1/processrequest", views.stk_push, name="stk_push"),
    path("mpesa/stkpushquery/v1/query", views.stk_query, name="stk_query"),
    path("mpesa/b2c/v3/paymentrequest", views.b2c_payment, name="b2c"),
    path("mpesa/b2b/v1/paymentrequest", views.b2b_payment, name="b2b"),
    path("mpesa/reversal/v1/request", views.reversal, name="reversal"),
    path("mpesa/transactionstatus/v1/query", views.transaction_status, name="transaction_status"),
    # The virtual phone
    path("phone/", views.phone_list, name="phone_list"),
    path("phone/<str:msisdn>/", views.phone, name="phone"),
    # Control API for tests and the demo
    path("api/prompts/", views.api_prompt_list, name="api_prompt_list"),
    path("api/prompts/<str:checkout_request_id>/", views.api_prompt_detail, name="api_prompt_detail"),
    path("api/prompts/<str:checkout_request_id>/respond/", views.api_prompt_respond, name="api_prompt_respond"),
    path("api/prompts/<str:checkout_request_id>/modes/", views.api_prompt_modes, name="api_prompt_modes"),
    path("api/prompts/<str:checkout_request_id>/resend/", views.api_prompt_resend, name="api_prompt_resend"),
    path("api/directives/", views.api_directive_create, name="api_directive_create"),
    path("api/tokens/expire/", views.api_tokens_expire, name="api_tokens_expire"),
    path("api/sms/", views.api_sms_list, name="api_sms_list"),
    path("api/transfer-directives/", views.api_transfer_directive_create, name="api_transfer_directive_create"),
    path("api/transfers/", views.api_transfer_list, name="api_transfer_list"),
    path("api/transfers/<str:originator_conversation_id>/", views.api_transfer_detail, name="api_transfer_detail"),
    path(
        "api/transfers/<str:originator_conversation_id>/resend/",
        views.api_transfer_resend,
        name="api_transfer_resend",
    ),
]
