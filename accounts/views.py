from django.contrib import messages
from django.contrib.auth import login, logout
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from wagtail.admin.views.account import LoginView as WagtailLoginView

from accounts.forms import AdminLoginForm, LoginForm, PayoutDestinationForm, SignUpForm
from accounts.models import User
from accounts.payout_destination import payout_destination_text, receives_payouts, user_set_payout_destination
from accounts.privacy import personal_data_download, user_erasure_refusals
from accounts.selectors import user_can_view_id_photo
from accounts.services import user_erase, user_register, user_set_sms_notifications
from accounts.validators import ALLOWED_IMAGE_FORMATS, IMAGE_CONTENT_TYPES, detect_id_photo_format
from core.exceptions import ApplicationError
from core.throttling import LOCKED_CODE


def _next_url(request, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return default


def signup(request):
    if request.user.is_authenticated:
        return redirect(_next_url(request, "/"))
    form = SignUpForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = user_register(
            name=data["name"],
            email=data["email"],
            phone_number=data["phone_number"],
            password=data["password"],
            id_photo=data.get("id_photo"),
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to Nexus, {user.first_name}.")
        return redirect(_next_url(request, "/"))
    return render(request, "accounts/signup.html", {"form": form, "next": _next_url(request, "")})


def login_view(request):
    form = LoginForm(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.user)
        return redirect(_next_url(request, "/"))
    status = 429 if form.has_error(NON_FIELD_ERRORS, LOCKED_CODE) else 200
    return render(request, "accounts/login.html", {"form": form, "next": _next_url(request, "")}, status=status)


class AdminLoginView(WagtailLoginView):
    """Wagtail's /admin/login/ (nexus/urls.py mounts it ahead of Wagtail's own) with the
    site's failed-sign-in lock: 429 and the form again while locked."""

    def get_form_class(self):
        return AdminLoginForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, LOCKED_CODE):
            response.status_code = 429
        return response


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, "You are logged out.")
    return redirect("/")


# The photo is served from our origin, so the response must never be able to act as a
# page: no scripts, plugins or subresources even if a browser were talked into rendering it.
ID_PHOTO_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"


@login_required
def id_photo(request, user_id: int):
    """Serve an ID photo only to someone allowed to see it; everyone else gets 404.

    The type comes from the bytes (Pillow), never from the stored name: anything that is
    not a JPEG, PNG or WebP is only offered as an opaque download.
    """
    subject = get_object_or_404(User, pk=user_id)
    if not subject.id_photo or not user_can_view_id_photo(viewer=request.user, subject=subject):
        raise Http404
    try:
        photo = subject.id_photo.open("rb")
    except OSError:
        raise Http404
    image_format = detect_id_photo_format(photo)
    if image_format:
        response = FileResponse(
            photo,
            content_type=IMAGE_CONTENT_TYPES[image_format],
            filename=f"id-photo-{subject.pk}{ALLOWED_IMAGE_FORMATS[image_format]}",
        )
    else:
        response = FileResponse(
            photo,
            content_type="application/octet-stream",
            as_attachment=True,
            filename=f"id-photo-{subject.pk}.bin",
        )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = ID_PHOTO_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


# --- Your account: your data and deleting the account (accounts.privacy) -----------------------


class AccountDeleteForm(forms.Form):
    password = forms.CharField(
        label="Your password, to confirm",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


def _account_page(request, form, status=200, payout_form=None):
    context = {"form": form, "refusals": user_erasure_refusals(user=request.user)}
    if receives_payouts(request.user):
        context["payout_form"] = payout_form or PayoutDestinationForm.for_user(request.user)
        context["payout_destination"] = payout_destination_text(request.user)
    return render(request, "accounts/account.html", context, status=status)


@login_required
def account(request):
    return _account_page(request, AccountDeleteForm())


@login_required
def account_data(request):
    return personal_data_download(user=request.user)


@login_required
@require_POST
def account_delete(request):
    form = AccountDeleteForm(request.POST)
    if not form.is_valid():
        return _account_page(request, form, status=400)
    try:
        user_erase(user=request.user, password=form.cleaned_data["password"])
    except ApplicationError as error:
        if error.code == "invalid_password":
            form.add_error("password", error.message)
        else:
            form.add_error(None, error.message)
        return _account_page(request, form, status=error.status)
    logout(request)
    messages.info(request, "Your account is deleted and your personal data erased.")
    return redirect("/")


@login_required
@require_POST
def account_sms(request):
    """The "Send me SMS" checkbox of the account page (an unticked box is absent from the form)."""
    enabled = request.POST.get("sms_notifications") == "on"
    user_set_sms_notifications(user=request.user, enabled=enabled)
    messages.success(request, "SMS updates are on." if enabled else "SMS updates are off; emails still come.")
    return redirect("accounts:account")


@login_required
@require_POST
def account_payout(request):
    """Hosts: where payouts go (accounts.payout_destination). Guests have no payouts: 404."""
    if not receives_payouts(request.user):
        raise Http404
    form = PayoutDestinationForm.for_user(request.user, data=request.POST)
    if not form.is_valid():
        return _account_page(request, AccountDeleteForm(), status=400, payout_form=form)
    user_set_payout_destination(user=request.user, destination=form.destination, actor=request.user)
    messages.success(request, f"Payouts will go to {payout_destination_text(request.user)}.")
    return redirect("accounts:account")
