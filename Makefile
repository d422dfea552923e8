# xen-gpu: the commands users type. CMake + CTest do the work underneath.
#   make demo     stub-mode proxy + three zones running real workloads
#   make test     dependencies, sanitizer build (ASan+UBSan, TSan for rings), every test
#   make          Release build into build/release
#   make bench    benchmarks (native vs ours, same run, ratios)
#   make bench-gpu  the driver (the GPU's, else the simulated one) directly and through xen-gpu, one run, JSON
#   make fuzz     long libFuzzer runs of every decoder that reads guest bytes
#   make test-xen just the real-Xen-under-QEMU job;  make kernel / make image: zone kernel, node image
JOBS      ?= $(shell nproc)
BUILD     ?= build
CMAKE_GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
FUZZ_SECONDS ?= 300

.PHONY: all release deps test test-asan test-tsan demo bench bench-gpu fuzz test-xen kernel image clean

all: release

deps:
	@scripts/deps.sh

deps-build:
	@scripts/deps.sh build

$(BUILD)/release/CMakeCache.txt: | deps-build
	cmake -S . -B $(BUILD)/release $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release

release: $(BUILD)/release/CMakeCache.txt
	cmake --build $(BUILD)/release -j $(JOBS)

$(BUILD)/asan/CMakeCache.txt: | deps-build
	cmake -S . -B $(BUILD)/asan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DXG_SANITIZE=address,undefined -DXG_FUZZ=ON

$(BUILD)/tsan/CMakeCache.txt: | deps-build
	cmake -S . -B $(BUILD)/tsan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DXG_SANITIZE=thread -DXG_TSAN_ONLY=ON

# The ASan tree is built first (both cores); scripts/test-suite.sh then runs its tests and builds the small TSan
# tree beside them at the lowest priority, then runs the TSan tests.
test: deps $(BUILD)/asan/CMakeCache.txt $(BUILD)/tsan/CMakeCache.txt
	cmake --build $(BUILD)/asan -j $(JOBS)
	@scripts/test-suite.sh $(BUILD) $(JOBS)

test-asan: $(BUILD)/asan/CMakeCache.txt
	cmake --build $(BUILD)/asan -j $(JOBS)
	cd $(BUILD)/asan && ctest --output-on-failure -j $(JOBS) --timeout 900

test-tsan: $(BUILD)/tsan/CMakeCache.txt
	cmake --build $(BUILD)/tsan -j $(JOBS)
	cd $(BUILD)/tsan && ctest --output-on-failure --timeout 600

demo: release
	@scripts/demo.sh $(BUILD)/release

bench: release
	@scripts/bench.sh $(BUILD)/release

bench-gpu: release
	@$(BUILD)/release/bench/gpu_bench $(BENCH_GPU_ARGS)

fuzz: $(BUILD)/asan/CMakeCache.txt
	cmake --build $(BUILD)/asan -j $(JOBS)
	@scripts/fuzz.sh $(BUILD)/asan $(FUZZ_SECONDS)

test-xen: deps $(BUILD)/asan/CMakeCache.txt
	cmake --build $(BUILD)/asan -j $(JOBS)
	cd $(BUILD)/asan && ctest --output-on-failure -L xen

kernel:
	@scripts/deps.sh image
	@kernel-config/build.sh $(BUILD)/kernel

image: kernel release
	@packer/build.sh $(BUILD)

clean:
	rm -rf $(BUILD)
