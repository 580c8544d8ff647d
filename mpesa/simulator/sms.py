"""The simulated SMS gateway (SMS_BACKEND=simulator): each message lands in the inbox of the
virtual phone with that number (/simulator/phone/<msisdn>/), next to its M-Pesa prompts."""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError

from core.phones import to_msisdn
from core.sms import SmsDeliveryError, sms_segments
from mpesa.simulator.models import SimulatedSms

logger = logging.getLogger(__name__)


class SimulatorSmsBackend:
    def send(self, *, to: str, message: str) -> None:
        try:
            msisdn = to_msisdn(to)
        except ValidationError as error:  # a number a real gateway would refuse too
            raise SmsDeliveryError(f"Not a Kenyan mobile number: {to!r}") from error
        SimulatedSms.objects.create(
            phone_number=msisdn, message=message, sender=settings.AFRICASTALKING_SENDER_ID[:11]
        )
        logger.info("sms to the virtual phone to=%s segments=%d", msisdn, sms_segments(message))
