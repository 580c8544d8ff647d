"""gunicorn's logger with the callback token masked (core.log_masking), in JSON when
LOG_FORMAT is json (the default here: gunicorn only serves production).

gunicorn writes its access log (the request line, the path) and its error log ("Error
handling request /payments/callback/...") through its own loggers, outside Django's
LOGGING, so the same filter is attached to them here. Named by gunicorn.conf.py.
In JSON each access line is one object whose request_id is the X-Request-ID the app
answered with (core.middleware.RequestIdMiddleware), so it matches the app's own lines.
"""

import os
import traceback

from gunicorn.glogging import Logger

from core.log_masking import MaskCallbackTokens
from core.logging import JsonFormatter, RequestIdFilter

_MASK = MaskCallbackTokens()
_REQUEST_ID = RequestIdFilter()


def _json_wanted() -> bool:
    return os.environ.get("LOG_FORMAT", "json").strip().lower() != "text"


class MaskingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        self._json = _json_wanted()
        # setup() runs again on every reload (SIGHUP); one shared filter is added once.
        for log in (self.error_log, self.access_log):
            log.addFilter(_MASK)
            if self._json:
                log.addFilter(_REQUEST_ID)
                for handler in log.handlers:
                    if getattr(handler, "_gunicorn", False):
                        handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not getattr(self, "_json", False):
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        status = str(atoms.get("s", ""))
        fields = {
            "request_id": atoms.get("{x-request-id}o") or "-",
            "method": atoms.get("m"),
            "path": atoms.get("U"),  # masked with the rest of the line by the formatter
            "status": int(status) if status.isdigit() else status,
            "duration_ms": atoms.get("M"),
            "bytes": atoms.get("B"),
        }
        try:
            self.access_log.info(self.cfg.access_log_format, self.atoms_wrapper_class(atoms), extra=fields)
        except Exception:
            self.error(traceback.format_exc())
