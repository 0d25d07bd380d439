# Two commands on a fresh machine: `make test` and `make demo`.
# Each creates or reuses .venv and installs everything it uses from the package registries.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.symphony-installed
# torch is pinned: on these machines 2.13.0 resolves to a CPU wheel on disk, while a loose
# requirement pulls a multi-GB CUDA build. See the README for CUDA.
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=
# make test runs the tests in two processes (pytest-xdist; each claims its own DDS domain):
# 6-12 min of pytest on a 2-core machine, about half of one process's time; it lists the
# 25 slowest tests last. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
# The Unitree G1's MJCF and meshes come from the mjlab wheel; --no-deps: only its files are
# used (located without importing mjlab, whose dependencies include GPU packages).
MJLAB ?= mjlab==1.6.0
# onnx needs ml_dtypes >= 0.5.4; 0.7.0's extension takes ~2 s to load here against 0.4 s for
# 0.5.4, and every process that reads a policy (policy_node, export, stress) pays it.
ML_DTYPES ?= ml_dtypes==0.5.4

.PHONY: venv test test-slow test-all lint bench demo clean

venv: $(STAMP)

# `distributed` (Ray) is installed too: the tests of `symphony train --collectors` need it.
# rclpy comes from a sourced ROS 2 distro when there is one (the venv then sees the system
# site-packages); otherwise from the pip wheels in the `pip-ros` extra.
$(STAMP): setup.py Makefile
	@if python3 -c 'import rclpy' 2>/dev/null; then \
	  echo "ROS 2 rclpy found: venv with system site-packages"; \
	  python3 -m venv --system-site-packages $(VENV); extras="test,distributed"; \
	else \
	  python3 -m venv $(VENV); extras="test,distributed,pip-ros"; \
	fi; \
	$(PIP) install -q --upgrade pip setuptools wheel && \
	$(PIP) install -q "$(TORCH)" && \
	$(PIP) install -q -e ".[$$extras]" "$(ML_DTYPES)" && \
	$(PIP) install -q --no-deps "$(MJLAB)"
	@touch $(STAMP)

test: venv
	$(PY) -m pytest -q -m "not slow" -n $(TEST_WORKERS) --durations=25 $(PYTEST_ARGS) test

test-slow: venv
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS) test

test-all: venv
	$(PY) -m pytest -q $(PYTEST_ARGS) test

lint: venv  # also run by `make test` (test/test_lint.py)
	$(PY) -m flake8 symphony_ros test bench launch setup.py
	$(PY) -m pydocstyle --convention=pep257 --add-ignore=D100,D104,D105,D107 symphony_ros

bench: venv
	$(PY) bench/train_throughput.py

# The shipped policy drives the sim humanoid through the ROS graph (lockstep, real DDS) for
# 1,000 ticks, recorded, evaluated and rendered; see symphony_ros/cli/demo_cmd.py.
demo: venv
	$(VENV)/bin/python -m symphony_ros.cli.demo_cmd --ticks 1000 $(DEMO_ARGS)

clean:
	rm -rf build install log *.egg-info .pytest_cache runs/demo_*
