"""`make bench`: throughput and latency figures, each next to a baseline measured in the same run.

Run with `.venv/bin/python -m bench` (see bench/__main__.py for the options). The
bench creates its own PostgreSQL database, serves it with gunicorn, and drops it at
the end; nothing here is imported by the production settings or URLs.
"""
