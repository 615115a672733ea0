# kfx — one machine first. `make run` and `make test` work on a fresh clone (Python 3.11 + internet to PyPI).
SHELL := /bin/bash
PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
SERVING_VENV := .venv-serving
TFX_VENV := .venv-tfx
PY := $(VENV)/bin/python
SPY := $(SERVING_VENV)/bin/python
TPY := $(TFX_VENV)/bin/python
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' components/_shared/version.py)
RUN_ROOT ?= runs
PYTEST_ARGS ?=

.PHONY: lock-tfx image serving-image help install install-serving lock run serve test test-all test-unit test-serving rehearse compile lint format bench bench-statistics bench-scale bench-tfx bench-pipeline bench-serving install-tfx clean version demo-drift

help:
	@echo "make run      install the pinned environment and run the training pipeline locally (kfp.local)"
	@echo "make test     run the test suite (components env + serving env)"
	@echo "make rehearse rehearse a cluster: the committed compiled YAMLs, step by step, against S3 + Kubernetes API test doubles"
	@echo "make serve    serve the latest blessed model from the last 'make run' on 127.0.0.1:8080"
	@echo "make demo-drift  continuous training on simulated card traffic (concept + covariate drift): serve, log,"
	@echo "              monitor, retrain, roll out; chart in $(RUN_ROOT)/demo-drift/ and docs/ (DAYS=, ROWS=, SCENARIO=)"
	@echo "make compile  write pipelines/compiled/$(VERSION)/training.yaml"
	@echo "make lint | bench | lock | clean"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: requirements/components.lock pyproject.toml | $(UV)
	[ -x $(PY) ] || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(PY) requirements/components.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	touch $@

$(SERVING_VENV)/.installed: requirements/serving.lock pyproject.toml | $(UV)
	[ -x $(SPY) ] || $(UV) venv --quiet --python $(PYTHON) $(SERVING_VENV)
	$(UV) pip sync --quiet --python $(SPY) requirements/serving.lock
	$(UV) pip install --quiet --python $(SPY) --no-deps -e .
	touch $@

# The TFX peer (benchmarks/tfx_peer.py): TFX 1.16.0 beside kfx's pins in its own venv. TFX pip-installs the
# module file as a wheel at run time, so this venv carries pip (ensurepip).
$(TFX_VENV)/.installed: requirements/tfx.lock | $(UV)
	[ -x $(TPY) ] || $(UV) venv --quiet --python $(PYTHON) $(TFX_VENV)
	$(UV) pip sync --quiet --python $(TPY) requirements/tfx.lock
	$(TPY) -m ensurepip --upgrade >/dev/null
	touch $@

# Bytecode for every installed module, as pip writes it at install time (uv does not by default). Without it, and
# with PYTHONDONTWRITEBYTECODE set, every process compiles TensorFlow & co. from source on every import: the one-time
# import of a local run goes from ~13 s to ~5 s of CPU. Each venv's own stamp, so existing venvs get it too. The TFX
# peer's venv gets the same, so the kfx-vs-TFX comparison stays like for like.
# (compileall exits 1 for the few files in site-packages that are not Python 3, e.g. py2 test data: harmless)
COMPILE_SITE = -m compileall -q -j 0 "$$($(1) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" >/dev/null || true

$(VENV)/.bytecode: $(VENV)/.installed
	$(PY) $(call COMPILE_SITE,$(PY))
	touch $@

$(TFX_VENV)/.bytecode: $(TFX_VENV)/.installed
	$(TPY) $(call COMPILE_SITE,$(TPY))
	touch $@

install: $(VENV)/.installed $(VENV)/.bytecode
install-serving: $(SERVING_VENV)/.installed
install-tfx: $(TFX_VENV)/.installed $(TFX_VENV)/.bytecode

lock: | $(UV)
	$(UV) pip compile --quiet --python-version 3.11 requirements/components.in -o requirements/components.lock
	$(UV) pip compile --quiet --python-version 3.11 requirements/serving.in -o requirements/serving.lock

lock-tfx: | $(UV)
	$(UV) pip compile --quiet --python-version 3.11 requirements/tfx.in -o requirements/tfx.lock

version:
	@echo $(VERSION)

run: install
	$(PY) -m pipelines.run --root $(RUN_ROOT)

serve: install-serving
	$(SPY) -m pipelines.serve --root $(RUN_ROOT) --host $${HOST:-127.0.0.1} --http-port $${PORT:-8080}

# The continuous-training loop end to end (pipelines/demo_drift.py): both venvs, the real model server, kfp.local runs.
demo-drift: install install-serving
	$(PY) -m pipelines.demo_drift --out $(RUN_ROOT)/demo-drift --days $${DAYS:-30} --rows-per-day $${ROWS:-1000} \
		--scenario $${SCENARIO:-all} --serving-python $(SPY) --png-copy docs/continuous-training.png

compile: install
	$(PY) -m pipelines.compile

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The default test run: unit, component, local pipeline, taxi end to end, golden YAML; then the serving env's tests.
test: install install-serving
	$(PY) -m pytest -m "not slow and not serving" $(PYTEST_ARGS)
	$(SPY) -m pytest tests/serving -m "serving and not slow" $(PYTEST_ARGS)

test-all: install install-serving
	$(PY) -m pytest -m "not serving" $(PYTEST_ARGS)
	$(SPY) -m pytest tests/serving -m serving $(PYTEST_ARGS)

# The cluster rehearsal: all five scenarios (tests/rehearsal; the fast ones also run in `make test`).
rehearse: install install-serving
	$(PY) -m pytest -m rehearsal tests/rehearsal $(PYTEST_ARGS)

bench: bench-statistics bench-pipeline bench-serving

bench-statistics: install
	$(PY) benchmarks/statistics.py

# the whole local pipeline at 15k, 150k, 1.5M and 15M rows (hours on 2 cores: SIZES=15k,150k,1.5M for less)
bench-scale: install
	$(PY) benchmarks/scale.py --sizes $${SIZES:-15k,150k,1.5M,15M}

# kfx's local pipeline against the canonical TFX pipeline on the same data, same run, at 15k and 150k rows
bench-tfx: install install-tfx
	$(PY) benchmarks/tfx_peer.py --tfx-python $(TPY)

bench-pipeline: install
	$(PY) benchmarks/pipeline.py

bench-serving: install install-serving
	$(SPY) benchmarks/serving.py

clean:
	rm -rf $(RUN_ROOT) .pytest_cache .ruff_cache build .rehearsal .bench

# Images (need a Docker engine; not available on every machine). Tags come from the one version.
IMAGE_REPO ?= ghcr.io/kfx-ml
image:
	docker build -f components/Dockerfile --build-arg KFX_GIT_COMMIT=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
		-t $(IMAGE_REPO)/kfx-runtime:$(VERSION) .

serving-image:
	docker build -f components/serving.Dockerfile -t $(IMAGE_REPO)/kfx-serving:$(VERSION) .
