# Two commands are all a user needs:
#   make run    set up .venv (first time) and run a pick-and-place episode on the virtual rig
#   make test   set up .venv (first time) and run the test suite
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements-lock.txt 2>/dev/null | sha1sum | cut -c1-12)
export MUJOCO_GL ?= egl
export PYTHONUNBUFFERED := 1

EXTRAS := sim,train,record,realsense,franka,calib,dev

.PHONY: run test test-fast setup system-deps lock bench train-default clean help

help:
	@echo "make run           one pick-and-place episode on the virtual rig (separate node processes over Cyclone DDS)"
	@echo "make test          the test suite"
	@echo "make bench         the benchmarks (DDS images, hand link, control loop, latency)"
	@echo "make train-default record demos, post-train, export and benchmark the default engine (long; CPU ok)"
	@echo "make lock          re-resolve requirements-lock.txt (exact versions make installs) after editing pyproject.toml"
	@echo "make system-deps   install the Debian packages the rig and tests need (as root; else prints the command)"

# Cheap (dpkg-query), so it runs before every run/test: a machine can lose packages that a kept .venv still needs.
system-deps:
	@scripts/system_deps.sh

# Exact versions from the lock, no resolver: --no-deps means nothing outside the lock comes in (in particular
# no nvidia-* wheels: the lock's torch==2.13.0 matches the local 2.13.0+cpu wheel, which pip prefers).
$(STAMP): pyproject.toml requirements-lock.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -r requirements-lock.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; exit 1; }
	@rm -f $(VENV)/.installed-*; touch $@

setup: system-deps $(STAMP)

# Resolves in a throwaway venv, so it works before .venv exists and never changes it.
lock:
	@tmp=$$(mktemp -d) && $(PY) -m venv $$tmp/venv && EXTRAS=$(EXTRAS) $$tmp/venv/bin/python scripts/lock.py; \
		rc=$$?; rm -rf $$tmp; exit $$rc

run: system-deps $(STAMP)
	$(BIN)/being-h0 run --profile sim $(RUN_ARGS)

test: system-deps $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(TEST_ARGS)

test-fast: system-deps $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(TEST_ARGS)

bench: $(STAMP)
	$(BIN)/being-h0 bench dds
	$(BIN)/being-h0 bench hand-link
	$(BIN)/being-h0 bench control-loop
	$(BIN)/being-h0 bench latency

train-default: $(STAMP)
	$(BIN)/python -m being_h0_train.pipeline.train_default $(TRAIN_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
