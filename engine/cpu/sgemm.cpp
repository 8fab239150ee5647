#include "engine/cpu/sgemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstdint>

namespace taper {
namespace {

// Tiles start at 256 x 256 and are halved, the larger side first and never
// below 64, until there are at least kMinTiles of them: enough to keep a
// handful of threads busy on the small-output, long-k GEMMs of weight
// gradients, while each tile stays large enough for OpenBLAS's kernels.
constexpr int kMaxTile = 256, kMinTile = 64, kMinTiles = 16;

struct Grid {
  int tile_m, tile_n, tiles_m, tiles_n;
};

int tiles(int extent, int tile) { return (extent + tile - 1) / tile; }

Grid grid_for(int m, int n) {
  int tm = std::min(m, kMaxTile), tn = std::min(n, kMaxTile);
  while (tiles(m, tm) * tiles(n, tn) < kMinTiles) {
    if (tn >= tm && tn > kMinTile) {
      tn = std::max(kMinTile, tn / 2);
    } else if (tm > kMinTile) {
      tm = std::max(kMinTile, tm / 2);
    } else {
      break;
    }
  }
  return {tm, tn, tiles(m, tm), tiles(n, tn)};
}

}  // namespace

void sgemm_in_region(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                     const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha,
              a, lda, b, ldb, beta, c, ldc);
}

void deterministic_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                         const float* b, int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  const Grid g = grid_for(m, n);
  const int count = g.tiles_m * g.tiles_n;
  // No `if` clause: even one tile runs inside the parallel region, which is
  // what keeps OpenBLAS on one thread.
#pragma omp parallel for schedule(static)
  for (int t = 0; t < count; ++t) {
    const int i0 = t / g.tiles_n * g.tile_m, j0 = t % g.tiles_n * g.tile_n;
    const int rows = std::min(g.tile_m, m - i0), cols = std::min(g.tile_n, n - j0);
    // Row i of op(A) is row i of A, or column i of A when transposed; likewise for B's columns.
    const float* a_tile = trans_a ? a + i0 : a + static_cast<int64_t>(i0) * lda;
    const float* b_tile = trans_b ? b + static_cast<int64_t>(j0) * ldb : b + j0;
    sgemm_in_region(trans_a, trans_b, rows, cols, k, alpha, a_tile, lda, b_tile, ldb, beta,
                    c + static_cast<int64_t>(i0) * ldc + j0, ldc);
  }
}

}  // namespace taper
