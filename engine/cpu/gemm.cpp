#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/sgemm.h"

namespace taper {

void CpuBackend::gemm(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b, float beta,
                      Tensor& c) {
  const int m = static_cast<int>(c.size(0)), n = static_cast<int>(c.size(1));
  const int k = static_cast<int>(trans_a ? a.size(0) : a.size(1));
  deterministic_sgemm(trans_a, trans_b, m, n, k, alpha, a.f32(), static_cast<int>(a.size(1)), b.f32(),
                      static_cast<int>(b.size(1)), beta, c.f32(), n);
}

// Attention's products are small (tokens x head width), so the batch is
// split over threads; each product is a deterministic_sgemm (single-threaded
// inside the region), so the result does not depend on the thread count.
void CpuBackend::gemm_batched(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b, float beta,
                              Tensor& c) {
  const int64_t batch = c.size(0);
  const int m = static_cast<int>(c.size(1)), n = static_cast<int>(c.size(2));
  const int k = static_cast<int>(trans_a ? a.size(1) : a.size(2));
  const int lda = static_cast<int>(a.size(2)), ldb = static_cast<int>(b.size(2));
  const int64_t sa = a.size(1) * a.size(2), sb = b.size(1) * b.size(2), sc = int64_t{m} * n;
  const float *pa = a.f32(), *pb = b.f32();
  float* pc = c.f32();
#pragma omp parallel for schedule(static) if (batch * sc * k > kParallelGrain)
  for (int64_t i = 0; i < batch; ++i) {
    deterministic_sgemm(trans_a, trans_b, m, n, k, alpha, pa + i * sa, lda, pb + i * sb, ldb, beta, pc + i * sc, n);
  }
}

void CpuBackend::add_row_vector(Tensor& x, const Tensor& v) {
  const int64_t rows = x.size(0), cols = x.size(1);
  float* px = x.f32();
  const float* pv = v.f32();
#pragma omp parallel for if (rows * cols > kParallelGrain)
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) px[i * cols + j] += pv[j];
  }
}

void CpuBackend::sum_rows(const Tensor& x, Tensor& out, float beta) {
  const int64_t rows = x.size(0), cols = x.size(1);
  const float* px = x.f32();
  float* po = out.f32();
  // Column-parallel: each output sums its rows in a fixed order, so the
  // result does not depend on the thread count.
#pragma omp parallel for if (rows * cols > kParallelGrain)
  for (int64_t j = 0; j < cols; ++j) {
    double s = 0.0;
    for (int64_t i = 0; i < rows; ++i) s += px[i * cols + j];
    // beta == 0 must not read out: it may be uninitialised (0 * NaN = NaN).
    po[j] = beta == 0.0f ? static_cast<float>(s) : beta * po[j] + static_cast<float>(s);
  }
}

}  // namespace taper
