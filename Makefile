# Thin wrapper around CMake. `make` builds, `make test` sets up and tests,
# `make run` sets up, builds and starts Night Core.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_TYPE ?= RelWithDebInfo
PYTHON     ?= /usr/bin/python3

.PHONY: all deps engine guest-kernel configure test test-vm unit asan fuzz fuzz-smoke bench bench-smoke conformance run demo clean

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/deps

# Prints nothing but builds (or finds) the cached engine.
engine: deps
	@scripts/engine >/dev/null

# Prints nothing but fetches (or finds) the cached guest kernel of the vm tier.
guest-kernel: deps
	@scripts/guest-kernel >/dev/null

configure: engine guest-kernel
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(CMAKE_TYPE) \
	  -DNC_ENGINE_DIR="$$(scripts/engine)" -DNC_GUEST_KERNEL_DIR="$$(scripts/guest-kernel)" >/dev/null

test: all
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) -LE vm-corpus
	@scripts/npm-test-deps
	@scripts/py-test-deps
	NC_BIN=$(CURDIR)/$(BUILD)/bin NC_FIXTURES=$(CURDIR)/$(BUILD)/fixtures \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration
	scripts/check-banned

# The whole hostile corpus in both isolation tiers: every module also in its
# own microVM (TCG here: docs/sandbox.md has how long it takes).
test-vm: all
	ctest --test-dir $(BUILD) --output-on-failure -L vm-corpus

unit: all
	ctest --test-dir $(BUILD) --output-on-failure -L unit

asan: engine
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DNC_SANITIZE=ON \
	  -DNC_ENGINE_DIR="$$(scripts/engine)" >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -L unit

fuzz: engine
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DNC_FUZZ=ON -DBUILD_TESTING=OFF \
	  -DNC_ENGINE_DIR="$$(scripts/engine)" >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	scripts/fuzz $(FUZZ_BUILD) $${FUZZ_SECONDS:-300}

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=20

# The full comparison with the peers (builds the wasmtime CLI once, cached):
# writes bench/report.md and bench/report.json.
bench: all
	cmake --build $(BUILD) -j $(JOBS) --target bench_sandbox bench_trust bench_audit bench_proof seed_audit bench_guest bench_vm
	NC_BIN=$(CURDIR)/$(BUILD)/bin NC_FIXTURES=$(CURDIR)/$(BUILD)/fixtures $(PYTHON) bench/report.py
	@echo "== the vm tier (figures labelled with their accelerator; bench/README.md)"
	NC_BIN=$(CURDIR)/$(BUILD)/bin NC_FIXTURES=$(CURDIR)/$(BUILD)/fixtures $(BUILD)/bin/bench_vm --boots 10 --runs 10

bench-smoke: all
	cmake --build $(BUILD) -j $(JOBS) --target bench_sandbox bench_trust bench_audit bench_proof seed_audit bench_guest bench_vm
	NC_FIXTURES=$(BUILD)/fixtures $(BUILD)/bin/bench_sandbox --runs 20 --compute-runs 1
	$(BUILD)/bin/bench_trust --runs 100
	$(BUILD)/bin/bench_audit --max 1000
	$(BUILD)/bin/bench_proof --entries 1000 --runs 21
	$(PYTHON) bench/bench_worker.py --quick

# The differential WASI conformance run against the wasmtime CLI (built once,
# cached): records the peer's results in tests/conformance/expected/ and fails
# on any difference not listed in tests/conformance/differences.json. `make
# test` checks Night Core against the recorded results without the peer.
conformance: all
	$(PYTHON) tests/conformance/run.py --build $(BUILD) --peer "$$(scripts/peer-wasmtime)" --update

run: all
	@scripts/run

demo: all
	@scripts/demo

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
