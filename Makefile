# The two commands of the README's quick start:
#   make demo   fetch MNIST, train a quick network, evaluate it, write the pictures
#   make test   run the test suite
# Both create .venv on first use. PYTHON picks the interpreter that builds it.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt
DEMO_OUT ?= runs/demo

.PHONY: demo test test-portable install install-dev clean notebook

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# PyPI's torch wheel for Linux pulls CUDA's libraries (several GB). A machine without a GPU needs only the CPU
# build: make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu (torch's own index of CPU wheels).
TORCH_INDEX ?=

# A stamp per flavour, remade when the dependency list changes.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml constraints.txt
	@echo "Installing torch 2.13.0$(if $(TORCH_INDEX), from $(TORCH_INDEX),). Without a GPU, the CPU build is enough and"
	@echo "a fraction of the size: if pip starts fetching nvidia-* packages, stop it (Ctrl-C) and run"
	@echo "  make $(or $(MAKECMDGOALS),demo) TORCH_INDEX=https://download.pytorch.org/whl/cpu"
	$(PIP) torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) -e .
	touch $@

# Norse and SpikingJelly without their declared requirements (they pull torchvision, which does not install
# beside this torch); what they import (numpy, nir, nirtorch, loguru, tqdm) the dev extras have. tonic 1.7.0
# (GPL-3.0) the same way, for the tests alone: tests/test_events.py runs its readers (tonic/io.py, which needs only
# numpy) on the files it writes, to compare; spikevision never imports it and copies none of its code.
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev]'
	$(PIP) --no-deps norse==1.1.0 spikingjelly==2.0.0 tonic==1.7.0
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The main job: fetch MNIST (verified), train the quick preset, evaluate on all 10,000 test images,
# and write the pictures. Re-running starts the demo afresh.
demo: install
	rm -rf $(DEMO_OUT)
	$(VENV)/bin/spikevision data fetch --dataset mnist
	$(VENV)/bin/spikevision train --preset quick --out $(DEMO_OUT)/quick
	$(VENV)/bin/spikevision evaluate $(DEMO_OUT)/quick
	$(VENV)/bin/spikevision report $(DEMO_OUT)/quick
	$(VENV)/bin/spikevision encode --coding rate --samples 4 --out $(DEMO_OUT)/encode-rate
	$(VENV)/bin/spikevision encode --coding latency --samples 4 --linear --normalize --clip --out $(DEMO_OUT)/encode-latency
	@echo
	@echo "Done. The run report: $(DEMO_OUT)/quick/report.html (open it in a browser; it works offline)."
	@echo "Spike encodings: $(DEMO_OUT)/encode-rate and $(DEMO_OUT)/encode-latency (GIF and MP4 per digit)."
	@echo "Next, try:"
	@echo "  $(VENV)/bin/spikevision inspect $(DEMO_OUT)/quick --out $(DEMO_OUT)/inspect   # inside the network"
	@echo "  $(VENV)/bin/spikevision predict $(DEMO_OUT)/quick my-digit.png             # your own digit"
	@echo "  $(VENV)/bin/spikevision train --preset seed                              # the handout's recipe"
	@echo "Draw a digit in your browser and watch it become spikes inside this network:"
	@echo "  $(VENV)/bin/spikevision play $(DEMO_OUT)/quick"

# The HTML report's browser test drives Debian's chromium through Playwright (never a downloaded browser).
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "make test needs $(CHROMIUM) for the report's browser test; install it as root: apt-get install chromium" >&2; \
		exit 1; \
	fi

test: install-dev $(CHROMIUM)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest

# The tests that compare floats, again as another processor rounds (CI runs this after make test): torch's
# scalar kernels, MKL's compatible code path, oneDNN at SSE4.1, numba for a generic x86-64 (on an AVX2 machine
# these change the bits of matrix products and convolutions); a test that passes only with this machine's
# rounding fails. docs/RELIABILITY.md says what "the same seed" promises across machines.
PORTABLE_ENV   ?= ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=SSE41 NUMBA_CPU_NAME=generic
PORTABLE_TESTS ?= tests/test_kernels.py tests/test_distributed.py tests/test_rows.py tests/test_interop.py \
                  tests/test_train.py tests/test_model.py tests/test_neuron.py tests/test_cuba.py tests/test_alif.py \
                  tests/test_recurrent.py tests/test_readout.py
test-portable: install-dev
	env $(PORTABLE_ENV) $(PY) -m pytest -q $(PORTABLE_TESTS)

# notebooks/lab.ipynb is shipped executed: run it again after changing it.
notebook: install-dev
	$(PY) notebooks/execute.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
