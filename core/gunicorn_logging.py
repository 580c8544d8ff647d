"""gunicorn's logger with the callback token masked (core.log_masking).

gunicorn writes its access log (the request line, the path) and its error log ("Error
handling request /payments/callback/...") through its own loggers, outside Django's
LOGGING, so the same filter is attached to them here. Named by gunicorn.conf.py.
"""

from gunicorn.glogging import Logger

from core.log_masking import MaskCallbackTokens

_MASK = MaskCallbackTokens()


class MaskingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        # setup() runs again on every reload (SIGHUP); one shared filter is added once.
        for log in (self.error_log, self.access_log):
            log.addFilter(_MASK)
