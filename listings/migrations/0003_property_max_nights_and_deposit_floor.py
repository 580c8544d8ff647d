"""Listings get a longest stay (max_nights, default 30) and a deposit floor: the first
payment is at least min_deposit_percent of the total, 20 unless the owner asks for more.

Listings that asked for no deposit (empty) or less than 20 % are raised to 20 % first, so
the new check constraint holds for every existing row.
"""

import django.core.validators
from django.conf import settings
from django.db import migrations, models


def raise_deposit_floor(apps, schema_editor):
    PropertyPage = apps.get_model("listings", "PropertyPage")
    PropertyPage.objects.filter(models.Q(min_deposit_percent__isnull=True) | models.Q(min_deposit_percent__lt=20)).update(
        min_deposit_percent=20
    )


class Migration(migrations.Migration):

    dependencies = [
        ('listings', '0002_page_not_live_index'),
        migrations.swappable_dependency(settings.WAGTAIL_PAGE_MODEL),
    ]

    operations = [
        migrations.RunPython(raise_deposit_floor, migrations.RunPython.noop),
        migrations.AddField(
            model_name='propertypage',
            name='max_nights',
            field=models.PositiveSmallIntegerField(default=30, help_text='Longest stay one booking may take (1 to 365 nights).', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(365)]),
        ),
        migrations.AlterField(
            model_name='propertypage',
            name='min_deposit_percent',
            field=models.PositiveSmallIntegerField(default=20, help_text='Smallest first payment, as a percentage of the total (20 to 100).', validators=[django.core.validators.MinValueValidator(20), django.core.validators.MaxValueValidator(100)]),
        ),
        migrations.AddConstraint(
            model_name='propertypage',
            constraint=models.CheckConstraint(condition=models.Q(('max_nights__gte', 1), ('max_nights__lte', 365)), name='property_max_nights_range'),
        ),
        migrations.AddConstraint(
            model_name='propertypage',
            constraint=models.CheckConstraint(condition=models.Q(('min_deposit_percent__gte', 20), ('min_deposit_percent__lte', 100)), name='property_min_deposit_percent_range'),
        ),
    ]
