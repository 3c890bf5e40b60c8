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

.PHONY: run test test-fast setup bench train-default clean help

help:
	@echo "make run           one pick-and-place episode on the virtual rig (separate node processes over Cyclone DDS)"
	@echo "make test          the test suite"
	@echo "make bench         the benchmarks (DDS images, hand link, control loop, latency)"
	@echo "make train-default record demos, post-train, export and benchmark the default engine (long; CPU ok)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@# torch first, from the pinned CPU build, so nothing pulls the CUDA wheels
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e ".[sim,train,record,realsense,franka,calib,view,dev]"
	@rm -f $(VENV)/.installed-*; touch $@

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/being-h0 run --profile sim $(RUN_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(TEST_ARGS)

test-fast: $(STAMP)
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
