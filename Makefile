# Samverkan: two commands do all set-up on a fresh machine.
#   make run   – the demo on http://127.0.0.1:8000 and its background worker (SQLite unless DATABASE_URL is set)
#   make test  – every check and the whole test suite, on PostgreSQL
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/samverkan

.PHONY: run test venv deps dev-deps system-deps browser-deps js-deps messages postgres lint check-migrations check-deploy pytest cluster-deps test-cluster

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Reinstall only when a requirements file changed.
$(VENV)/.deps: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.deps

deps: $(VENV)/.deps
dev-deps: $(VENV)/.dev-deps

# Debian packages the project needs: gettext (to compile translations); Pango and
# the DejaVu fonts for WeasyPrint's PDFs; poppler-utils (pdffonts, pdfsig) to check them.
system-deps:
	@./scripts/ensure-debian-packages gettext:msgfmt poppler-utils:pdffonts \
		libpango-1.0-0:/usr/lib/x86_64-linux-gnu/libpango-1.0.so.0 \
		libpangoft2-1.0-0:/usr/lib/x86_64-linux-gnu/libpangoft2-1.0.so.0 \
		fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
		fonts-dejavu-extra:/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf

# Debian's Chromium, which the real-browser tests (tests/e2e) drive through
# Playwright; Playwright's own browser downloads are not used.
browser-deps:
	@./scripts/ensure-debian-packages chromium:chromium

# npm dev dependencies (axe-core for the accessibility scans; oidc-provider, the
# real OpenID provider the sign-in tests run with Node.js), exactly as locked.
# npm ci empties node_modules first, so the stamp is written after it.
node_modules/.installed: package.json package-lock.json
	@./scripts/ensure-debian-packages nodejs:node npm:npm
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

js-deps: node_modules/.installed

messages: system-deps deps
	$(PY) manage.py compilemessages --ignore=.venv --verbosity 0

# The background worker (e-mail, reminders, timers) runs beside the server and
# stops with it; it prints the e-mail it sends.
run: messages
	$(PY) manage.py create_demo_signing_certificate
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py run_worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver 127.0.0.1:8000

# PostgreSQL's client tools too: pg_dump/pg_restore for the backups (deploy/backup.sh, tests/ops).
postgres:
	@./scripts/ensure-debian-packages postgresql-client:pg_dump postgresql-client:pg_restore
	@./scripts/ensure-postgres "$(TEST_DATABASE_URL)"

# Debian's nginx in front of the two app servers of the cluster tests (tests/ops/test_cluster.py)
# and the capacity benchmark (bench/capacity.py); `ip` (iproute2) makes their network namespaces.
cluster-deps:
	@./scripts/ensure-debian-packages nginx:nginx iproute2:ip

# The cluster tests alone (they are part of `make test` too).
test-cluster: dev-deps messages postgres cluster-deps
	DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest -m cluster $(PYTEST_ARGS)

lint: dev-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

check-migrations: dev-deps postgres
	DJANGO_SETTINGS_MODULE=config.settings.test DATABASE_URL=$(TEST_DATABASE_URL) $(PY) manage.py makemigrations --check --dry-run

# The production settings, with test values for the required environment.
check-deploy: dev-deps
	DJANGO_SETTINGS_MODULE=config.settings.production \
	SECRET_KEY='deploy-check-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ' \
	ALLOWED_HOSTS=samverkan.example.se DATABASE_URL=$(TEST_DATABASE_URL) \
	$(PY) manage.py check --deploy --fail-level WARNING

pytest: dev-deps messages postgres browser-deps js-deps cluster-deps
	DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint check-migrations check-deploy pytest
