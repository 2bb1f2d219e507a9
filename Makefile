# LLM Trainer: `make run` starts the product, `make test` runs every check. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .make
FRONTEND_SRC := $(shell find frontend/src frontend/public -type f 2>/dev/null) frontend/index.html frontend/vite.config.ts

.PHONY: run test dev lint audit test-backend test-frontend bench clean

run: $(STAMPS)/venv frontend/dist/index.html
	$(BIN)/llm-trainer serve

test: $(STAMPS)/venv $(STAMPS)/npm frontend/dist/index.html lint audit test-frontend test-backend

dev: $(STAMPS)/venv $(STAMPS)/npm
	@echo "API on http://127.0.0.1:8000 (reload), UI on http://127.0.0.1:5173 (Vite, proxies the API)"
	$(BIN)/llm-trainer serve --reload & pid=$$!; trap "kill $$pid" EXIT INT TERM; cd frontend && npm run dev

lint: $(STAMPS)/venv $(STAMPS)/npm
	$(BIN)/ruff check backend bench
	$(BIN)/ruff format --check backend bench
	cd frontend && npm run typecheck && npm run lint

# Known vulnerabilities with a fix fail the build (.ci/audit.py says which).
audit: $(STAMPS)/venv $(STAMPS)/npm
	$(BIN)/python .ci/audit.py

test-frontend: $(STAMPS)/npm
	cd frontend && npm run test:unit

test-backend: $(STAMPS)/venv frontend/dist/index.html
	cd backend && ../$(BIN)/python -m pytest

# Every benchmark of issue 14, under 60 minutes on a quiet 2-core machine: one table, bench/results/<date>-<host>.json
# and .png, README's Performance section rewritten from the newest complete run. BENCH_ARGS="--quick" or "--only ...".
bench: $(STAMPS)/venv
	$(BIN)/python bench/suite.py $(BENCH_ARGS); status=$$?; $(BIN)/python bench/report.py --readme && exit $$status

# Pinned CPU torch first: an unpinned torch would pull a multi-GB CUDA build.
$(STAMPS)/venv: backend/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e 'backend[dev]'
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/npm: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	@mkdir -p $(STAMPS) && touch $@

frontend/dist/index.html: $(STAMPS)/npm $(FRONTEND_SRC)
	cd frontend && npm run build
	@touch $@

clean:
	rm -rf $(STAMPS) frontend/dist frontend/node_modules $(VENV)
