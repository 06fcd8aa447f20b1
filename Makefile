# golgi: the two commands a new user runs are `make demo` and `make test`.
BUILD_DIR ?= build
JOBS ?= 2
FUZZ_SECONDS ?= 30
GOLGI := $(BUILD_DIR)/bin/golgi

.PHONY: all setup configure build demo test test-unit test-integration test-xcheck test-e2e test-repro bench fuzz clean

all: build

# Installs the Debian packages (idempotent; fast when everything is present).
setup:
	bash scripts/setup.sh

configure: setup
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo; fi

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

# Builds the atlases of the two bundled models (first run: a few minutes; cached in atlases/), then
# serves the viewer at http://127.0.0.1:$(PORT)/ until Ctrl-C. `golgi demo --help` explains.
PORT ?= 8080
demo: build
	$(GOLGI) demo --port $(PORT)

# unit + integration + xcheck + e2e (the README's test command; CI runs it).
test: build
	cd $(BUILD_DIR) && ctest -L 'unit|integration|xcheck|e2e' --output-on-failure -j$(JOBS)

test-unit: build
	cd $(BUILD_DIR) && ctest -L unit --output-on-failure -j$(JOBS)

test-integration: build
	cd $(BUILD_DIR) && ctest -L integration --output-on-failure

test-xcheck: build
	cd $(BUILD_DIR) && ctest -L xcheck --output-on-failure

test-e2e: build
	cd $(BUILD_DIR) && ctest -L e2e --output-on-failure

test-repro: build
	cd $(BUILD_DIR) && ctest -L repro --output-on-failure

# Benchmarks and peer comparisons; results in bench/results/*.json.
bench: build
	bash bench/run.sh $(BUILD_DIR)

# libFuzzer targets for the tensor-file parsers (clang, ASan + UBSan), FUZZ_SECONDS each.
fuzz: setup
	bash tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD_DIR) build-fuzz
