# The two commands of the README. Each installs missing Debian packages,
# configures CMake into build/, builds, then runs its job.
BUILD ?= build
JOBS ?= 2
CTEST_ARGS ?=

.PHONY: demo test bench build deps configure clean

demo: build
	$(BUILD)/examples/models

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)

# The performance bench: a table, RATIO lines and $(BUILD)/bench/results.json.
bench: build
	$(BUILD)/bench/mirai_bench --out $(BUILD)/bench/results.json

build: configure
	cmake --build $(BUILD) -j$(JOBS)

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

deps:
	bash scripts/install-deps.sh

clean:
	rm -rf $(BUILD)
