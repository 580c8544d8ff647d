from django.contrib import messages
from django.contrib.auth import login, logout
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.conf import settings
from django.http import FileResponse, Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from wagtail.admin.views.account import LoginView as WagtailLoginView

from accounts.forms import AdminLoginForm, LanguageForm, LoginForm, PayoutDestinationForm, SignUpForm
from accounts.models import User
from accounts.payout_destination import payout_destination_text, receives_payouts, user_set_payout_destination
from accounts.privacy import personal_data_download, user_erasure_refusals
from accounts.selectors import user_can_view_id_photo
from accounts.services import user_erase, user_register, user_set_language, user_set_sms_notifications
from accounts.validators import ALLOWED_IMAGE_FORMATS, IMAGE_CONTENT_TYPES, detect_id_photo_format
from core.exceptions import ApplicationError
from core.language import url_in_language
from core.throttling import LOCKED_CODE


def _next_url(request, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return default


def _home(language: str | None = None) -> str:
    return url_in_language("/", language or translation.get_language())


def _remember_language(response, language: str) -> None:
    """The language cookie: read by Django's LocaleMiddleware and core.language's redirect."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE or 365 * 24 * 60 * 60,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE or settings.SESSION_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE or "Lax",
    )


def _auth_page_context(request, form) -> dict:
    # header_next: the header's "Log in"/"Sign up" links on these pages carry the page's own
    # `next` on, not a link back to this page (a guest who signs up from the log-in page
    # would otherwise land on a log-in form while already logged in).
    next_url = _next_url(request, "")
    return {"form": form, "next": next_url, "header_next": next_url or _home()}


@require_POST
def set_language(request):
    """The language switch (header, account page): the same page in the chosen language,
    remembered in a cookie and, for a signed-in user, in their profile (User.language)."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Choose English or Kiswahili."))
    language = form.cleaned_data["language"]
    response = redirect(url_in_language(_next_url(request, "/"), language))
    _remember_language(response, language)
    if request.user.is_authenticated:
        user_set_language(user=request.user, language=language)
    return response


def signup(request):
    if request.user.is_authenticated:
        return redirect(_next_url(request, _home()))
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
        # A guest who signs up on the Kiswahili site gets their emails and SMS in Kiswahili.
        user_set_language(user=user, language=translation.get_language())
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome to Nexus, %(name)s.") % {"name": user.first_name})
        response = redirect(_next_url(request, _home()))
        _remember_language(response, user.language)
        return response
    return render(request, "accounts/signup.html", _auth_page_context(request, form))


def login_view(request):
    if request.user.is_authenticated:
        return redirect(_next_url(request, _home()))
    form = LoginForm(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.user)
        # From here on the site follows the language saved in the user's profile.
        language = form.user.language
        response = redirect(url_in_language(_next_url(request, "/"), language))
        _remember_language(response, language)
        return response
    status = 429 if form.has_error(NON_FIELD_ERRORS, LOCKED_CODE) else 200
    return render(request, "accounts/login.html", _auth_page_context(request, form), status=status)


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
    messages.info(request, _("You are logged out."))
    return redirect(_home())


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
        label=gettext_lazy("Your password, to confirm"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


def _account_page(request, form, status=200, payout_form=None):
    context = {
        "form": form,
        "refusals": user_erasure_refusals(user=request.user),
        "language_form": LanguageForm(initial={"language": request.user.language}),
    }
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
    messages.info(request, _("Your account is deleted and your personal data erased."))
    return redirect(_home())


@login_required
@require_POST
def account_sms(request):
    """The "Send me SMS" checkbox of the account page (an unticked box is absent from the form)."""
    enabled = request.POST.get("sms_notifications") == "on"
    user_set_sms_notifications(user=request.user, enabled=enabled)
    messages.success(request, _("SMS updates are on.") if enabled else _("SMS updates are off; emails still come."))
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
    messages.success(request, _("Payouts will go to %(destination)s.") % {"destination": payout_destination_text(request.user)})
    return redirect("accounts:account")
