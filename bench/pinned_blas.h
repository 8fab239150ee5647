// Benchmarks time what taper runs: with the OpenBLAS kernels taper pins
// (engine/cpu/blas_kernels.h), not those OpenBLAS would pick on this CPU
// (SkylakeX or Cooperlake kernels where AVX-512 exists, which taper never
// trains with). Call it first in main; it may re-execute the program.
#pragma once

#include <cstdio>

#include "engine/cpu/blas_kernels.h"

namespace taper::bench {

inline void pin_blas_as_taper_does(char** argv) {
  pin_blas_kernels(argv);
  std::printf("# OpenBLAS %s kernels (taper runs %s unless OPENBLAS_CORETYPE says otherwise)\n", blas_core_name(),
              kPinnedBlasCore);
}

}  // namespace taper::bench
