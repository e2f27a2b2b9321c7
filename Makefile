# Two commands on a fresh machine: `make run` and `make test`. Both are idempotent.
VENV   := .venv
BIN    := $(VENV)/bin
PYTHON ?= python3
FLASK  := $(BIN)/flask --app wsgi

.PHONY: install run test lint worker cron bench lighthouse translations messages fonts assets clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

translations: $(VENV)/.installed
	@if [ -d translations ]; then for domain in messages admin; do $(BIN)/pybabel compile -q -D $$domain -d translations 2>/dev/null || $(BIN)/pybabel compile -D $$domain -d translations; done; fi

# Re-extract the interface's strings and merge them into translations/*/messages.po.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations

# Posters need a font with Chinese glyphs: installed from Debian's packages when missing.
fonts:
	@bash .ci/ensure-fonts

# Browser libraries the app serves itself (hls.js for live streams), from package-lock.json.
node_modules/.assets: package.json package-lock.json
	npm ci --no-audit --no-fund --omit=dev --loglevel=error
	touch $@

assets: node_modules/.assets

install: $(VENV)/.installed translations fonts assets

run: install
	$(FLASK) db upgrade
	$(FLASK) demo-data
	@echo "Shop:  http://127.0.0.1:5000/"
	$(FLASK) run --host 127.0.0.1 --port 5000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install lint
	@bash .ci/ensure-chromium
	$(BIN)/pytest -n 2 --dist loadfile

worker: install
	$(BIN)/rq worker --with-scheduler -w rq.SimpleWorker --url "$${REDIS_URL:?set REDIS_URL}" siyu

cron: install
	@: "$${REDIS_URL:?set REDIS_URL}"
	$(FLASK) jobs cron

# The bench drives the shop with wrk and replays checkout's statements with pgbench.
bench: install
	@bash .ci/apt-install wrk postgresql-client
	$(BIN)/python bench/run.py $(if $(ONLY),--only=$(ONLY))

# Lighthouse (a dev dependency, pinned in package.json and package-lock.json) into ./node_modules.
node_modules/.tools: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@ node_modules/.assets

# Lighthouse (mobile, in Chinese) on home, product, checkout, an order page and the workbench
# of a fresh demo shop; prints the category scores. Slow: not part of `make test`.
lighthouse: install node_modules/.tools
	@bash .ci/ensure-chromium
	CHROME_PATH=$${CHROME_PATH:-/usr/bin/chromium} $(BIN)/python bench/lighthouse.py $(if $(ONLY),--only=$(ONLY))

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache node_modules
