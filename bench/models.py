from django.db import models


class BaselineRow(models.Model):
    """The one row the baseline view inserts: the cheapest write Django can serve."""

    label = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)
