// Every single-precision GEMM of the CPU backend (linear layers and the
// im2col convolutions) goes through here.
//
// Why not call cblas_sgemm directly: OpenBLAS's own threading splits the
// work by the number of threads, and its results change with it (measured:
// OpenBLAS 0.3.21 on an AMD EPYC gives different bits for 1, 2 and 4 threads
// on most convolution shapes). Here C is cut into a grid of tiles that
// depends only on the matrix shape; the threads share the tiles and each tile
// is one single-threaded OpenBLAS call (OpenBLAS runs on one thread inside
// an OpenMP parallel region), so every element is computed by the same code
// in the same order whatever the thread count.
#pragma once

namespace taper {

// Row-major C[m, n] = alpha * op(A) op(B) + beta * C, with op(A) [m, k] and
// op(B) [k, n]; lda, ldb, ldc are the row strides of A, B, C as stored.
void deterministic_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                         const float* b, int ldb, float beta, float* c, int ldc);

// The same product as one single-threaded OpenBLAS call, for callers inside
// an OpenMP parallel region (no `if` clause) that already share the work out
// by shape, such as the convolution's image groups.
void sgemm_in_region(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                     const float* b, int ldb, float beta, float* c, int ldc);

}  // namespace taper
