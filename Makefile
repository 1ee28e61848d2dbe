# Two commands on a fresh machine:
#   make demo   -> install, generate demo landing data, build, check, publish, show the result
#   make test   -> install and run every test
#   make test-spark -> the same dbt models on Spark: parity with DuckDB (docs/scale.md)
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo

.PHONY: install browser demo test test-spark clean

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

# Spark in its own venv (pyspark ~0.5 GB), so the main one stays as pinned. Java 17 must be
# installed; nothing is downloaded at run time.
SPARK_VENV ?= .venv-spark
SPARK_PKGS := dbt-core==1.11.16 "dbt-spark[session]==1.11.0" pyspark==3.5.8
$(SPARK_VENV)/bin/dbt: Makefile
	@test -x $(SPARK_VENV)/bin/python || $(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SPARK_VENV)/bin/python -m pip install --quiet $(SPARK_PKGS)
	@touch $(SPARK_VENV)/bin/dbt

test-spark: install $(SPARK_VENV)/bin/dbt
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/spark_parity.py --spark-venv $(SPARK_VENV)

clean:
	rm -rf $(VENV) $(SPARK_VENV) $(DEMO) target logs dbt_packages .pytest_cache
