from wagtail.admin.forms import WagtailAdminPageForm
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
