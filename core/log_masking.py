"""The Daraja callback token is a secret carried in a URL path
(/payments/callback/<token>/, and the result and timeout paths): anyone who reads it
can post forged callbacks, so no log line may show it. Applied to Django's log handlers
(LOGGING in nexus/settings/base.py) and to gunicorn's access and error logs
(core.gunicorn_logging, named by gunicorn.conf.py).
"""

import logging
import re

_TOKEN_IN_PATH = re.compile(r"(/payments/(?:callback|result|timeout)/)[^/?#\s\"']+")
# A listing's calendar export address (/calendar/<token>.ics) is its only key, so it is masked too.
_CALENDAR_TOKEN_IN_PATH = re.compile(r"(/calendar/)[^/?#\s\"']+(\.ics)")


def mask_callback_tokens(text: str) -> str:
    return _CALENDAR_TOKEN_IN_PATH.sub(r"\1***\2", _TOKEN_IN_PATH.sub(r"\1***", text))


class MaskCallbackTokens(logging.Filter):
    """Renders the record's message and masks any callback token in it.

    The token may be in the format string or in any argument (a path, a request line,
    a request object's repr), so the rendered text is what gets checked.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: logging reports it itself when it formats
            return True
        masked = mask_callback_tokens(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True
