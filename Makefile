# Two commands on a fresh machine: `make run` and `make test`. Both are idempotent.
VENV   := .venv
BIN    := $(VENV)/bin
PYTHON ?= python3
FLASK  := $(BIN)/flask --app wsgi

.PHONY: install run test lint worker cron bench translations messages assets clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

translations: $(VENV)/.installed
	@if [ -d translations ]; then $(BIN)/pybabel compile -q -d translations 2>/dev/null || $(BIN)/pybabel compile -d translations; fi

# Re-extract the interface's strings and merge them into translations/*/messages.po.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations

# Browser libraries the app serves itself (hls.js for live streams), from package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --omit=dev --silent
	touch $@

assets: node_modules/.installed

install: $(VENV)/.installed translations assets

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

bench: install
	$(BIN)/python bench/run.py $(if $(ONLY),--only=$(ONLY))

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache node_modules
