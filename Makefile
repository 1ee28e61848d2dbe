# Two commands on a fresh machine:
#   make demo   -> install, generate demo landing data, build, check, publish, show the result
#   make test   -> install and run every test
#   make lint   -> the house style: ruff (Python) and sqlfluff with the dbt templater (SQL)
#   make test-spark -> the same dbt models on Spark: parity with DuckDB (docs/scale.md)
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo

.PHONY: install browser demo test lint test-spark clean

# Each step says what it installs; pip shows each package as it goes (the first install takes
# about 2.5 minutes and 1.4 GB in .venv).
$(BIN)/ygt: pyproject.toml
	@test -x $(BIN)/python || { echo "==> creating the virtual environment $(VENV) with $(PYTHON)"; \
	  $(PYTHON) -m venv $(VENV); }
	@echo "==> upgrading pip in $(VENV)"
	$(BIN)/python -m pip install --upgrade --progress-bar on pip
	@echo "==> installing ygt and its dependencies (dbt-duckdb, Dagster, Great Expectations, DuckDB, ...): \
	first time about 2.5 min and 1.4 GB"
	$(BIN)/python -m pip install --progress-bar on -e ".[dev]"
	@touch $(BIN)/ygt
	@echo "==> installed: $(BIN)/ygt"

install: $(BIN)/ygt

demo: install
	$(BIN)/ygt demo --dir $(DEMO)

# Headless Chromium renders the HTML pages in the tests. When it is missing this installs SYSTEM
# packages with apt (sudo unless root): chromium and CJK fonts for the screenshots, about 450 MB.
# An install interrupted earlier is finished first (dpkg --configure -a), else apt refuses to
# run. If apt still fails, the browser tests are skipped (pytest names them), the rest runs.
BROWSER_PKGS ?= chromium fonts-noto-cjk
browser:
	@if command -v chromium >/dev/null 2>&1; then echo "==> browser for the tests: $$(command -v chromium)"; \
	else SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); APT="env DEBIAN_FRONTEND=noninteractive apt-get"; \
	  echo "==> installing system packages with apt for the browser tests: $(BROWSER_PKGS) (about 450 MB)"; \
	  { $$SUDO dpkg --configure -a && $$SUDO $$APT update && $$SUDO $$APT install -y $(BROWSER_PKGS); } || \
	  echo "==> WARNING: apt could not install $(BROWSER_PKGS) (its message is above): the browser tests \
	will be skipped. Install them and run make test again to include them."; fi

test: install browser
	@echo "==> running the test suite (pytest)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

lint: install
	@echo "==> ruff: Python lint and format check"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@echo "==> sqlfluff (dbt templater): dbt models and tests"
	PATH="$(CURDIR)/$(BIN):$$PATH" DBT_PROFILES_DIR=$(CURDIR) $(BIN)/sqlfluff lint models tests/dbt --processes 2

# Spark in its own venv (pyspark ~0.5 GB), so the main one stays as pinned. Java 17 must be
# installed; nothing is downloaded at run time.
SPARK_VENV ?= .venv-spark
SPARK_PKGS := dbt-core==1.11.16 "dbt-spark[session]==1.11.0" pyspark==3.5.8
$(SPARK_VENV)/bin/dbt:
	@test -x $(SPARK_VENV)/bin/python || { echo "==> creating the Spark virtual environment $(SPARK_VENV)"; \
	  $(PYTHON) -m venv $(SPARK_VENV); }
	$(SPARK_VENV)/bin/python -m pip install --quiet --upgrade pip
	@echo "==> installing $(SPARK_PKGS) into $(SPARK_VENV): first time about 2-4 min and 0.5 GB"
	$(SPARK_VENV)/bin/python -m pip install --progress-bar off $(SPARK_PKGS)
	@touch $(SPARK_VENV)/bin/dbt

test-spark: install $(SPARK_VENV)/bin/dbt
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/spark_parity.py --spark-venv $(SPARK_VENV)

clean:
	rm -rf $(VENV) $(SPARK_VENV) $(DEMO) target logs dbt_packages .pytest_cache
