# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SERVE_STAMP := $(VENV)/.serving
STAMP := $(VENV)/.installed
NPM_STAMP := web/node_modules/.installed
CHROMIUM := /usr/bin/chromium
REDIS := /usr/bin/redis-server
POSTGRES := /usr/lib/postgresql
NGINX := /usr/sbin/nginx
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test model bench chat clean cluster cluster-stop

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Serving needs the base dependencies only; tests, training and the tools add their extras.
$(SERVE_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[train,test,cluster]'
	touch $@

$(NPM_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --silent
	touch $@

run: $(SERVE_STAMP) $(NPM_STAMP)
	$(PY) -m server

# The browser tests (tests/browser/) drive Debian's Chromium: Playwright's own browser
# download does not work on our machines.
$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

# The cluster's tests start their own throwaway Redis (unless TEST_REDIS_URL names one).
$(REDIS):
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server

# ... and their own throwaway PostgreSQL cluster (unless TEST_DATABASE_URL names a database).
$(POSTGRES):
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql

# The cluster's balancer (tools/nginx.conf), which its test starts too.
$(NGINX):
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx

test: $(STAMP) $(NPM_STAMP) $(CHROMIUM) $(REDIS) $(POSTGRES) $(NGINX)
	$(PY) -m pytest -q

# The arena on loopback as a cluster (docs/scaling.md): nginx on PORT (5000), WEB_PROCESSES
# web processes (2) on PORT+1..., BOT_WORKERS bot workers (1), Redis and PostgreSQL
# (throwaway ones unless REDIS_URL / DATABASE_URL name some). Returns once it answers.
cluster: $(STAMP) $(NPM_STAMP) $(REDIS) $(POSTGRES) $(NGINX)
	$(PY) tools/cluster.py start

cluster-stop:
	$(PY) tools/cluster.py stop

chat: $(STAMP)
	$(PY) -m model chat

# The shipped model and its backward model (for reranking), trained side by side on one
# thread each (README: the recipe; about 2.2 CPU-hours), exported, then evaluated.
model: $(STAMP)
	$(PY) -m model train --out runs/default --threads 1 & forward=$$!; \
	$(PY) -m model train --out runs/backward --backward true --epochs 6 --threads 1 & backward=$$!; \
	wait $$forward; status=$$?; wait $$backward && test $$status = 0
	$(PY) -m model export runs/default model/default
	$(PY) -m model export --backward runs/backward model/default
	$(PY) -m model eval model/default

bench: $(STAMP)
	$(PY) -m model bench

clean:
	rm -rf $(VENV) web/node_modules runs artifacts
