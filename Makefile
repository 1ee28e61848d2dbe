# Two commands on a fresh machine:
#   make demo   -> install, generate demo landing data, build, check, publish, show the result
#   make test   -> install and run every test
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo

.PHONY: install browser demo test clean

$(BIN)/ygt: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(BIN)/ygt

install: $(BIN)/ygt

demo: install
	$(BIN)/ygt demo --dir $(DEMO)

# Headless Chromium renders the HTML report in the tests (Debian package; fonts for the screenshot).
BROWSER_PKGS ?= chromium fonts-noto-cjk
browser:
	@command -v chromium >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(BROWSER_PKGS) >/dev/null; }

test: install browser
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(DEMO) target logs dbt_packages .pytest_cache
