# vamp: every entry point a user or CI needs. `make test` sets up a fresh Debian machine by itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Debian packages the tests need: PortAudio, a JACK server with the dummy driver, and
# Chromium for the browser tests (driven by playwright-core, never a downloaded browser).
APT_PACKAGES := libportaudio2 jackd2 chromium
JS_DIRS := tests/js tests/browser tests/bench/node
WEB := signaling/web
WEB_SOURCES := $(wildcard $(WEB)/src/*) $(WEB)/build.mjs $(WEB)/package.json

.PHONY: help install system-deps js-deps bench-deps web test check lint typecheck serve demo bench clean

help:
	@echo "make demo   - start a signaling server and three peers; one records, all hold it bit-exact"
	@echo "make test   - set everything up and run lint, type checks and the whole test suite"
	@echo "make serve  - run the signaling server in the foreground (127.0.0.1:4567)"
	@echo "make bench  - measure latency, scale and cost; writes docs/benchmarks.{md,json}"
	@echo "make install- create .venv with vamp (editable) and its test tools"
	@echo "make web    - build the browser client that \`vamp serve-signal --web\` serves"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "vamp needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(STAMP)

# Installs missing Debian packages when root; otherwise says what to install.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    echo "jackd2 jackd/tweak_rt_limits boolean false" | debconf-set-selections; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing -- run: sudo apt-get install$$missing" >&2; exit 1; \
	  fi; \
	fi

js-deps:
	@for d in $(JS_DIRS); do \
	  if [ -f $$d/package.json ] && [ ! -f $$d/node_modules/.installed-stamp -o $$d/package.json -nt $$d/node_modules/.installed-stamp ]; then \
	    (cd $$d && npm install --no-audit --no-fund --loglevel=error && touch node_modules/.installed-stamp) || exit 1; \
	  fi; \
	done

# The browser client: npm packages at build time, bundled into signaling/web/dist (gitignored).
# Rebuilt only when its sources change.
web: $(WEB)/dist/vamp.js

$(WEB)/dist/vamp.js: $(WEB_SOURCES)
	@command -v npm >/dev/null || { echo "make web needs node and npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	cd $(WEB) && npm install --no-audit --no-fund --loglevel=error && npm run --silent build

lint: install
	$(BIN)/ruff check vamp_cli signaling tests

typecheck: install
	$(BIN)/mypy

check: lint typecheck

# The suite runs in a fresh network namespace with only loopback when it can (root),
# so no test can reach any address off this machine.
test: install system-deps js-deps web check
	tests/isolated $(BIN)/pytest $(PYTEST_ARGS)

serve: install
	$(BIN)/vamp serve-signal

demo: install
	$(BIN)/vamp demo

# Tools only the benchmarks use (make test needs neither): Debian's jacktrip, a baseline,
# and py-spy, which profiles the peers. Without them the bench says what it could not measure.
bench-deps: install
	@dpkg-query -W -f='$${Status}' jacktrip 2>/dev/null | grep -q "install ok installed" || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian package: jacktrip"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jacktrip >/dev/null \
	      || echo "could not install jacktrip: its figures will be missing" >&2; \
	  else echo "jacktrip is missing (sudo apt-get install jacktrip): its figures will be missing" >&2; fi; }
	@[ -x $(BIN)/py-spy ] || $(BIN)/pip install --quiet py-spy || echo "could not install py-spy: no profiles" >&2

bench: install system-deps js-deps bench-deps
	tests/isolated $(BIN)/python -m tests.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts
