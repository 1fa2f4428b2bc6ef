# make train — set everything up, then train the default GAN (MLP GAN on Fashion-MNIST)
# make test  — set everything up, then run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup data train test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
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
