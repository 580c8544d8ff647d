# Two commands for a newcomer: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test bench migrate clean check

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ not found: install it (e.g. apt install python3 python3-venv)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --no-input
	$(PY) manage.py createcachetable
	$(PY) manage.py setup_site

# The site, the Daraja simulator (/simulator/) and the django-q2 worker, together.
# Ctrl-C stops both processes.
run: migrate
	$(PY) manage.py seed_demo
	@echo "Serving on http://$(HOST):$(PORT)/  (admin: /admin/, API docs: /api/docs/, virtual phone: /simulator/phone/)"
	@export MPESA_SIMULATOR_URL=http://$(HOST):$(PORT)/simulator MPESA_CALLBACK_BASE_URL=http://$(HOST):$(PORT); \
	trap 'kill 0' INT TERM EXIT; \
	$(PY) manage.py qcluster & \
	$(PY) manage.py runserver $(HOST):$(PORT) --noreload; \
	wait

# The whole suite. SQLite unless DATABASE_URL points at PostgreSQL.
# Two xdist workers (the machine has 2 cores); each gets its own test database. worksteal:
# a worker that runs out takes tests from the other, so no core idles behind a long test.
PYTEST_WORKERS ?= 2
test: install
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: install
	$(PY) -m bench

check: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

clean:
	rm -rf $(VENV) var staticfiles test-artifacts
