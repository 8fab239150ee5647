// The CPU's reachable float32 throughput, measured in the same run as the
// figures it is compared with (a busy machine lowers both alike).
#pragma once

#include <algorithm>
#include <vector>

#include <cblas.h>

#include "bench/timing.h"

namespace taper::bench {

constexpr int kPeakReps = 10;

// The ceiling for an im2col + sgemm convolution: square 2048^3 sgemm, best
// of a few reps (best, not median: we want what the BLAS can reach).
inline double sgemm_peak_gflops() {
  constexpr int n = 2048;
  std::vector<float> a(size_t{n} * n, 0.5f), b(size_t{n} * n, 0.25f), c(size_t{n} * n);
  double best = 1e30;
  for (int r = 0; r < kPeakReps; ++r) {  // the first rep doubles as warm-up
    const auto t0 = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                c.data(), n);
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * n * n * n / best * 1e-9;
}

}  // namespace taper::bench
