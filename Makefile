# The two commands of the README: `make demo` and `make test` (tests, then the documentation site).
# Both create .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-fast bench browser clean

EXAMPLE := examples/anobench-example-plugin

$(STAMP): pyproject.toml $(EXAMPLE)/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# the torch pair is pinned once, in pyproject's `measured` extra (torchvision is needed by lpips)
	$(BIN)/pip install -q -e '.[test,measured]'
	# the plugin guide's example distribution, installed as an outside plugin (docs/plugins.md)
	$(BIN)/pip install -q --no-deps -e $(EXAMPLE)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/anobench run --method ddpm --dataset brain-phantom --set stride=25 --out runs/demo/ddpm --overwrite
	$(BIN)/anobench run --method thor --dataset brain-phantom --set stride=25 --out runs/demo/thor --overwrite
	$(BIN)/anobench compare runs/demo/ddpm runs/demo/thor --name demo --overwrite

# Debian's Chromium and ChromeDriver for the site's browser test (tests/test_site.py), where apt can
# install them (root); elsewhere that test is skipped and says why
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; } || \
	  echo "could not install chromium and chromium-driver: tests/test_site.py will be skipped"; \
	else echo "no chromium and no root apt-get: tests/test_site.py will be skipped"; fi

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test-fast: $(STAMP)  # the unit tier: no command line, no model; minutes less than `make test`
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/forward_share.py
	$(BIN)/python bench/thor_vs_ddpm.py
	$(BIN)/python bench/simplex_share.py
	$(BIN)/python bench/pddpm_calls.py
	$(BIN)/python bench/latent_calls.py
	$(BIN)/python bench/bootstrap_speed.py
	$(BIN)/python bench/performance_report.py

clean:
	rm -rf $(VENV) runs .pytest_cache .site
