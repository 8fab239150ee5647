// GEMM (single and strided-batched) through cuBLAS, and the row-vector kernels
// of linear layers; the CPU reference is engine/cpu/gemm.cpp.
//
// Our matrices are row-major; cuBLAS's are column-major. A row-major M x N
// matrix is the column-major N x M matrix of its transpose, so
// C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T with A and B swapped.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"

namespace taper {

using cuda::f32_of;

namespace {

__global__ void add_row_vector_kernel(float* x, const float* v, int64_t rows, int64_t cols) {
  TAPER_GRID_LOOP(i, rows * cols) x[i] += v[i % cols];
}

// One thread per column, rows summed in order (coalesced across a warp).
__global__ void sum_rows_kernel(const float* x, float* out, float beta, int64_t rows, int64_t cols) {
  TAPER_GRID_LOOP(j, cols) {
    double s = 0.0;
    for (int64_t i = 0; i < rows; ++i) s += x[i * cols + j];
    // beta == 0 must not read out: it may be uninitialised (0 * NaN = NaN).
    out[j] = beta == 0.0f ? static_cast<float>(s) : beta * out[j] + static_cast<float>(s);
  }
}

// TF32 only when asked for: plain FP32 keeps the CPU's results within 1e-4.
cublasComputeType_t gemm_compute_type() {
  return allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

}  // namespace

void CudaBackend::gemm(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b, float beta,
                       Tensor& c) {
  const int m = static_cast<int>(c.size(0)), n = static_cast<int>(c.size(1));
  const int k = static_cast<int>(trans_a ? a.size(0) : a.size(1));
  if (m == 0 || n == 0) return;
  const int lda = std::max(1, static_cast<int>(a.size(1))), ldb = std::max(1, static_cast<int>(b.size(1)));
  TAPER_CUBLAS_CHECK(cublasGemmEx(cublas_, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  n, m, k, &alpha, f32_of(b), CUDA_R_32F, ldb, f32_of(a), CUDA_R_32F, lda, &beta,
                                  f32_of(c), CUDA_R_32F, n, gemm_compute_type(), CUBLAS_GEMM_DEFAULT));
}

// The same swap per batch index, the products laid out back to back.
void CudaBackend::gemm_batched(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b, float beta,
                               Tensor& c) {
  const int batch = static_cast<int>(c.size(0)), m = static_cast<int>(c.size(1)), n = static_cast<int>(c.size(2));
  const int k = static_cast<int>(trans_a ? a.size(1) : a.size(2));
  if (batch == 0 || m == 0 || n == 0) return;
  const int lda = std::max(1, static_cast<int>(a.size(2))), ldb = std::max(1, static_cast<int>(b.size(2)));
  const long long stride_a = a.size(1) * a.size(2), stride_b = b.size(1) * b.size(2), stride_c = int64_t{m} * n;
  TAPER_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      cublas_, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, f32_of(b),
      CUDA_R_32F, ldb, stride_b, f32_of(a), CUDA_R_32F, lda, stride_a, &beta, f32_of(c), CUDA_R_32F, n, stride_c, batch,
      gemm_compute_type(), CUBLAS_GEMM_DEFAULT));
}

void CudaBackend::add_row_vector(Tensor& x, const Tensor& v) {
  const int64_t rows = x.size(0), cols = x.size(1);
  if (rows * cols == 0) return;
  add_row_vector_kernel<<<cuda::grid_for(rows * cols), cuda::kThreads>>>(f32_of(x), f32_of(v), rows, cols);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::sum_rows(const Tensor& x, Tensor& out, float beta) {
  const int64_t rows = x.size(0), cols = x.size(1);
  if (cols == 0) return;
  sum_rows_kernel<<<cuda::grid_for(cols), cuda::kThreads>>>(f32_of(x), f32_of(out), beta, rows, cols);
  TAPER_CUDA_LAUNCHED();
}

}  // namespace taper
