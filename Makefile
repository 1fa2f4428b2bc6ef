# make train — set everything up, then train the default GAN (model=cgan, the modern conditional GAN, on Fashion-MNIST)
# make test  — set everything up, then run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup data train test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@# Debian splits venv's pip bootstrap into python3-venv: install it when missing (as root)
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; } || \
		{ echo "python3-venv is missing: run 'apt-get install python3-venv' as root, then make again" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

data:
	sh scripts/ensure_fashion_mnist.sh

train: setup data
	$(PY) train.py $(ARGS)

test: setup data
	$(PY) -m pytest $(ARGS)

bench: setup data
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	for bench in benchmarks/bench_*.py; do $(PY) $$bench || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
