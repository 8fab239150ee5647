#include "engine/cpu/blas_kernels.h"

#include <cblas.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#ifndef TAPER_ARCH
#define TAPER_ARCH "unknown"
#endif

namespace taper {

const char* blas_core_name() { return openblas_get_corename(); }

const char* compiled_arch() { return TAPER_ARCH; }

void pin_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  setenv("OPENBLAS_CORETYPE", kPinnedBlasCore, 1);
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "taper: warning: could not re-execute to pin the OpenBLAS kernels (%s); running with %s\n",
               std::strerror(errno), blas_core_name());
}

}  // namespace taper
