# The two commands: `make demo` and `make test`. Both set everything up first
# (Debian packages, .venv, the SOFIE engine, the build) and redo only what changed.

PYTHON_BASE ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
BUILD       := build
# Compile jobs, ctest jobs and pytest-xdist workers: every core by default.
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
# V=1 shows every compiler, CMake and pip line; by default each long step prints one line
# saying what it does, and its full output goes to a log that is shown when it fails.
V           ?= 0

# pipefail: a step whose output is filtered still fails when the step fails.
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c

ifeq ($(V),1)
  QUIET_LOG :=
  STEPS     := cat
else
  QUIET_LOG := --quiet
  # The lines that say what the build does (CMake's comments and links), not the compiles.
  STEPS     := grep --line-buffered -E '^\[ *[0-9]+%\] (Linking|Generating|Saving|Precompiling|Linking the plugin)' | sed -u 's/^/   /'
endif

.PHONY: all setup system venv build build-plugin demo test test-cpp test-python test-pip test-engines lint clean

all: build

setup: build

system:
	@tools/install-system-deps.sh

# The stamp records that requirements.txt was installed; it is redone when it changes.
$(VENV)/.requirements.stamp: requirements.txt | system
	@[ -x $(PY) ] || { echo "== creating $(VENV)"; $(PYTHON_BASE) -m venv $(VENV); }
	@echo "== installing the Python packages of requirements.txt into $(VENV) (ROOT and torch: about 1 GB the first time)"
	@$(PY) -m pip install $(QUIET_LOG) --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install $(QUIET_LOG) --disable-pip-version-check -r requirements.txt
	@touch $@

venv: $(VENV)/.requirements.stamp

# Configuring fetches the SOFIE engine (cmake/SofieEngine.cmake: the sofie wheel's prebuilt
# libraries and the sdist's headers, with pip; a few seconds). Its output goes to
# build/configure.log; the engine's status lines are shown.
$(BUILD)/CMakeCache.txt: $(VENV)/.requirements.stamp CMakeLists.txt
	@echo "== configuring the build in $(BUILD)/ (log: $(BUILD)/configure.log)"
	@mkdir -p $(BUILD)
	@if [ "$(V)" = 1 ]; then cmake -S . -B $(BUILD) -DPython3_EXECUTABLE=$(abspath $(PY)); \
	 else cmake -S . -B $(BUILD) -DPython3_EXECUTABLE=$(abspath $(PY)) > $(BUILD)/configure.log 2>&1 \
	      || { cat $(BUILD)/configure.log; exit 1; }; \
	    grep -E '^-- SOFIE engine' $(BUILD)/configure.log | sed 's/^-- /   /'; fi

# Puts the package on the environment's path and the library on ROOT's, so that
# activating .venv is enough.
define register
	@$(PY) -c 'import sysconfig, pathlib; \
	  pathlib.Path(sysconfig.get_path("purelib"), "sofie_pytorch_dev.pth").write_text("$(abspath python)\n")'
	@tools/write-console-script.sh $(abspath $(PY)) $(VENV)/bin/sofie-pytorch
endef

# cmake --build for the given targets, one status line per step (log: build/build.log).
define cmake_build
	@cmake --build $(BUILD) -j$(JOBS) $(1) 2>&1 | tee $(BUILD)/build.log | $(STEPS) \
	  || { echo "== the build failed; the end of $(BUILD)/build.log:"; tail -60 $(BUILD)/build.log; exit 1; }
endef

# The plugin only (what the demo needs): libSofiePyTorch, and the engine if it is compiled.
build-plugin: $(BUILD)/CMakeCache.txt
	@echo "== building the plugin libSofiePyTorch with $(JOBS) jobs (log: $(BUILD)/build.log)"
	$(call cmake_build,--target register_in_root)
	$(register)

# Everything: the plugin, the C++ tests, the test models.
build: $(BUILD)/CMakeCache.txt
	@echo "== building the plugin and the C++ tests with $(JOBS) jobs (log: $(BUILD)/build.log)"
	$(call cmake_build,)
	$(register)

demo: build-plugin
	@echo "== converting, compiling and running an example model (examples/demo.py)"
	@$(PY) examples/demo.py

# Test-only packages (test/requirements.txt: pytest-xdist, the notebook runner), on top of
# requirements.txt; test/requirements-no-deps.txt without their training-only dependencies
# (weaver-core: its model files need only torch and numpy).
$(VENV)/.test-requirements.stamp: test/requirements.txt test/requirements-no-deps.txt $(VENV)/.requirements.stamp
	@echo "== installing the test packages of test/requirements.txt"
	@$(PY) -m pip install $(QUIET_LOG) --disable-pip-version-check -r test/requirements.txt
	@$(PY) -m pip install $(QUIET_LOG) --disable-pip-version-check --no-deps -r test/requirements-no-deps.txt
	@touch $@

# pytest on JOBS workers (pytest-xdist). --dist loadgroup: the tests of a module that share
# a module-scoped fixture run on one worker (test/python/conftest.py groups them), so each
# such fixture is built once; every other test goes to whichever worker is free.
# --no-loadscope-reorder: xdist hands out the groups and tests in the order conftest.py
# gives them (longest first, by the previous run's times: test/python/schedule_order.py)
# instead of re-sorting them by their number of tests.
PYTEST := $(PY) -m pytest -n $(JOBS) --dist loadgroup --no-loadscope-reorder

# The whole suite, including `pip install .` into a new virtual environment. Programs the
# tests compile from generated code are kept in build/test-cache/ (test/models/compile_cache.py:
# keyed on the preprocessed source, flags, compiler and libraries), so a rerun recompiles only
# what changed; SOFIE_PYTORCH_TEST_CACHE=off compiles everything. ctest and
# pytest both run and both report; the exit status is pytest's, or ctest's if only ctest
# failed.
test: build $(VENV)/.test-requirements.stamp
	@echo "== ctest: the C++ tests, $(JOBS) at a time"
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --progress; c=$$?; cd $(CURDIR); \
	 echo "== pytest: the Python tests on $(JOBS) workers"; \
	 SOFIE_PYTORCH_TEST_PIP=1 CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(PYTEST) test/python; p=$$?; \
	 echo "== ctest exit status $$c, pytest exit status $$p"; \
	 [ $$p -ne 0 ] && exit $$p; exit $$c

test-cpp: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --progress

test-python: build $(VENV)/.test-requirements.stamp
	$(PYTEST) test/python

# Only the `pip install .` test.
test-pip: build $(VENV)/.test-requirements.stamp
	SOFIE_PYTORCH_TEST_PIP=1 CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(PY) -m pytest test/python/test_pip_install.py

# Both engines side by side (cmake/SofieEngine.cmake): the wheel's libraries and the ones
# compiled from the sdist (6-9 minutes on 2 cores, kept in build/engine-sdist), then
# test/python/test_engine.py compares the code they generate for every coverage case.
# Once both exist, `make test` runs that comparison too.
ENGINE_ONLY := -DPython3_EXECUTABLE=$(abspath $(PY)) -DBUILD_TESTING=OFF -DSOFIE_PYTORCH_REGISTER_IN_ROOT=OFF
test-engines: build $(VENV)/.test-requirements.stamp
	@echo "== fetching the wheel's engine into $(BUILD)/engine-wheel"
	@cmake -S . -B $(BUILD)/engine-wheel $(ENGINE_ONLY) -DSOFIE_ENGINE=wheel > /dev/null
	@echo "== compiling the engine from the sdist into $(BUILD)/engine-sdist (6-9 minutes on 2 cores, once)"
	@cmake -S . -B $(BUILD)/engine-sdist $(ENGINE_ONLY) -DSOFIE_ENGINE=sdist > /dev/null
	@cmake --build $(BUILD)/engine-sdist -j$(JOBS) --target sofie_engine_signature 2>&1 \
	  | tee $(BUILD)/engine-sdist/build.log | $(STEPS)
	$(PY) -m pytest test/python/test_engine.py

lint: venv
	$(PY) -m pip install --quiet ruff
	$(VENV)/bin/ruff check python test examples bench

clean:
	rm -rf $(BUILD)

# The performance benchmark (not part of the tests; over an hour on 2 cores with the real-model
# section, see the README's Performance): writes
# bench/results/results.md and latency.png. Its extra packages stay out of requirements.txt.
.PHONY: bench
$(VENV)/.bench.stamp: bench/requirements.txt bench/requirements-no-deps.txt $(VENV)/.requirements.stamp
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) -m pip install --quiet --no-deps -r bench/requirements-no-deps.txt
	@touch $@

bench: build $(VENV)/.bench.stamp
	$(PY) bench/run.py

# Fuzzing (test/fuzz, README "Errors and safety"): installs its own requirements, feeds
# 10,000 mutated models and shape lists through PyROOT and 5,000 through the C++ entry,
# and writes test/fuzz/RESULTS.md. Findings go to test/fuzz/findings/.
.PHONY: fuzz
fuzz: build
	$(PY) -m pip install --quiet -r test/fuzz/requirements.txt
	nice $(PY) test/fuzz/fuzz.py --python 10000 --cpp 5000 --results test/fuzz/RESULTS.md

# The scoring benchmark (RDataFrame, DistRDF, AsNumpy + torch / ONNX Runtime, uproot + torch;
# 10^6 and 10^7 events; about 20 minutes on 2 cores): bench/scoring/results/.
.PHONY: bench-scoring
bench-scoring: build $(VENV)/.bench.stamp
	$(PY) bench/scoring/run.py
