# gunicorn reads this file when started from the repository root (render.yaml names it
# explicitly). The Daraja callback token is part of a URL path: the access and error
# logs show it masked (core/log_masking.py).
logger_class = "core.gunicorn_logging.MaskingLogger"
