import mimetypes

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.forms import LoginForm, SignUpForm
from accounts.models import User
from accounts.selectors import user_can_view_id_photo
from accounts.services import user_register


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
    return render(request, "accounts/login.html", {"form": form, "next": _next_url(request, "")})


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, "You are logged out.")
    return redirect("/")


@login_required
def id_photo(request, user_id: int):
    """Serve an ID photo only to someone allowed to see it; everyone else gets 404."""
    subject = get_object_or_404(User, pk=user_id)
    if not subject.id_photo or not user_can_view_id_photo(viewer=request.user, subject=subject):
        raise Http404
    content_type = mimetypes.guess_type(subject.id_photo.name)[0] or "application/octet-stream"
    response = FileResponse(subject.id_photo.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
