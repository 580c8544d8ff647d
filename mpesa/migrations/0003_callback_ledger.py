

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('mpesa', '0002_reconcile_schedule'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CallbackRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('STK', 'STK push result')], default='STK', max_length=8)),
                ('dedupe_key', models.CharField(max_length=160, unique=True)),
                ('raw_body', models.TextField(help_text='The body exactly as Daraja posted it')),
                ('checkout_request_id', models.CharField(db_index=True, max_length=64)),
                ('merchant_request_id', models.CharField(blank=True, max_length=64)),
                ('result_code', models.CharField(max_length=32)),
                ('result_desc', models.CharField(blank=True, max_length=255)),
                ('receipt', models.CharField(blank=True, max_length=32, null=True)),
                ('amount', models.PositiveIntegerField(blank=True, null=True)),
                ('phone_number', models.CharField(blank=True, max_length=16)),
                ('transaction_date', models.DateTimeField(blank=True, null=True)),
                ('deliveries', models.PositiveIntegerField(default=1)),
                ('received_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('last_received_at', models.DateTimeField(auto_now_add=True)),
                ('state', models.CharField(choices=[('NEW', 'Stored, not applied yet'), ('APPLIED', 'Applied to its payment'), ('UNMATCHED', 'Unmatched M-Pesa payment'), ('IGNORED', 'Nothing to apply'), ('ATTACHED', 'Attached to a booking by staff'), ('REFUND_MARKED', 'Marked for refund by staff')], db_index=True, default='NEW', max_length=16)),
                ('applied_at', models.DateTimeField(blank=True, null=True)),
                ('outcome_note', models.CharField(blank=True, help_text='What applying it did, or why not', max_length=255)),
                ('resolved_at', models.DateTimeField(blank=True, null=True)),
                ('resolution_note', models.TextField(blank=True)),
                ('payment', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='callback_records', to='mpesa.payment')),
                ('resolved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'M-Pesa callback',
                'verbose_name_plural': 'M-Pesa callbacks',
                'ordering': ['-received_at', '-id'],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('state', 'APPLIED'), _negated=True), ('payment__isnull', False), _connector='OR'), name='applied_callback_has_payment'), models.CheckConstraint(condition=models.Q(models.Q(('state', 'UNMATCHED'), _negated=True), models.Q(('result_code', '0'), ('amount__isnull', False)), _connector='OR'), name='unmatched_callback_is_a_success')],
            },
        ),
    ]
