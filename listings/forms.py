from modelcluster.forms import BaseChildFormSet
from wagtail.admin.forms import WagtailAdminPageForm
from wagtail.admin.panels import InlinePanel
from wagtail.images import get_image_model
from wagtail.permissions import policy_registry


class PropertyPageForm(WagtailAdminPageForm):
    """The gallery accepts only photos the editor may choose (their own collection, for an
    owner), so a hand-made form naming another owner's photo id is refused, as the image
    chooser refuses it. Photos already in this listing's gallery stay valid."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.for_user is None or "gallery_images" not in self.formsets:
            return
        Image = get_image_model()
        choosable = policy_registry.get_by_type(Image).instances_user_has_any_permission_for(self.for_user, ["choose"])
        attached = Image.objects.none()
        if self.instance.pk:
            attached = Image.objects.filter(pk__in=self.instance.gallery_images.values("image_id"))
        queryset = Image.objects.filter(pk__in=choosable.values("pk")) | attached
        for form in self.formsets["gallery_images"].forms:
            if "image" in form.fields:
                form.fields["image"].queryset = queryset

    def _clean_percent(self, name: str) -> int:
        # An emptied box means no discount (the column holds 0, never NULL).
        value = self.cleaned_data.get(name)
        return 0 if value is None else value

    def clean_weekly_discount_percent(self):
        return self._clean_percent("weekly_discount_percent")

    def clean_monthly_discount_percent(self):
        return self._clean_percent("monthly_discount_percent")


class SeasonalPriceFormSet(BaseChildFormSet):
    """A listing's seasons, refused when two of them overlap: a night would have two prices.

    Seasons are half-open like stays, so one may start on the day the previous one ends.
    The error goes on the later season's dates, where the owner fixes it.
    """

    def clean(self):
        super().clean()
        kept = []
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            data = getattr(form, "cleaned_data", None) or {}
            start, end = data.get("start"), data.get("end")
            if start is None or end is None or end <= start:
                continue  # empty, or already refused on its own
            kept.append((start, end, data.get("label") or "", form))
        kept.sort(key=lambda item: (item[0], item[1]))
        for (start, end, label, _form), (next_start, next_end, _label, next_form) in zip(kept, kept[1:]):
            if next_start < end:
                name = f"\u201c{label}\u201d " if label else ""
                next_form.add_error(
                    "start",
                    f"This season overlaps the season {name}from {start:%-d %b %Y} to {end:%-d %b %Y}. "
                    f"Seasons may not overlap: start this one on {end:%-d %b %Y} or later, or change the other.",
                )


class SeasonalPricesPanel(InlinePanel):
    """The listing's seasons, validated together by SeasonalPriceFormSet."""

    def get_form_options(self):
        options = super().get_form_options()
        options["formsets"][self.relation_name]["formset"] = SeasonalPriceFormSet
        return options
