# The two commands: `make demo` and `make test`. Both set everything up first
# (Debian packages, .venv, the SOFIE engine, the build) and redo only what changed.

PYTHON_BASE ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
BUILD       := build
JOBS        ?= 2

.PHONY: all setup system venv build demo test test-cpp test-python test-pip lint clean

all: build

setup: build

system:
	@tools/install-system-deps.sh

# The stamp records that requirements.txt was installed; it is redone when it changes.
$(VENV)/.requirements.stamp: requirements.txt | system
	@[ -x $(PY) ] || $(PYTHON_BASE) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

venv: $(VENV)/.requirements.stamp

$(BUILD)/CMakeCache.txt: $(VENV)/.requirements.stamp CMakeLists.txt
	cmake -S . -B $(BUILD) -DPython3_EXECUTABLE=$(abspath $(PY))

# Builds the engine (first time only), the plugin and the tests; puts the package on
# the environment's path and the library on ROOT's, so that activating .venv is enough.
build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)
	@$(PY) -c 'import sysconfig, pathlib; \
	  pathlib.Path(sysconfig.get_path("purelib"), "sofie_pytorch_dev.pth").write_text("$(abspath python)\n")'
	@tools/write-console-script.sh $(abspath $(PY)) $(VENV)/bin/sofie-pytorch

demo: build
	$(PY) examples/demo.py

# Test-only packages (test/requirements.txt: the notebook runner), on top of requirements.txt;
# test/requirements-no-deps.txt without their training-only dependencies (weaver-core).
$(VENV)/.test-requirements.stamp: test/requirements.txt test/requirements-no-deps.txt $(VENV)/.requirements.stamp
	$(PY) -m pip install --quiet -r test/requirements.txt
	$(PY) -m pip install --quiet --no-deps -r test/requirements-no-deps.txt
	@touch $@

# The whole suite, including `pip install .` into a new virtual environment (its wheel
# build reuses the engine built here: see test/python/test_pip_install.py).
test: build $(VENV)/.test-requirements.stamp
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	SOFIE_PYTORCH_TEST_PIP=1 CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(PY) -m pytest test/python

# Only the `pip install .` test.
test-pip: build
	SOFIE_PYTORCH_TEST_PIP=1 CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(PY) -m pytest test/python/test_pip_install.py

lint: venv
	$(PY) -m pip install --quiet ruff
	$(VENV)/bin/ruff check python test examples bench

clean:
	rm -rf $(BUILD)

# The performance benchmark (not part of the tests; 13-25 minutes on 2 cores): writes
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
