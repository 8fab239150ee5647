// The OpenBLAS kernels taper runs with: pinned (engine/cpu/blas_kernels.h),
// so that a build trains to the same numbers on every x86 server, unless the
// user chooses others through OPENBLAS_CORETYPE.
#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "engine/cpu/blas_kernels.h"
#include "tests/child_process.h"
#include "tests/temp_dir.h"

using namespace taper;
using namespace taper::testing;

namespace {

// `taper --version`'s output, run with OPENBLAS_CORETYPE unset (and then the
// extra `env` entries).
std::string version_line(const std::string& bin, const std::string& log, const std::vector<std::string>& env) {
  const char* outer = std::getenv("OPENBLAS_CORETYPE");
  const std::optional<std::string> saved = outer ? std::optional<std::string>(outer) : std::nullopt;
  unsetenv("OPENBLAS_CORETYPE");  // this process's OpenBLAS read it long ago
  Child child({bin, "--version"}, "", log, env);
  const int rc = child.wait();
  if (saved) setenv("OPENBLAS_CORETYPE", saved->c_str(), 1);
  REQUIRE_MESSAGE(rc == 0, child.err());
  return child.out();
}

}  // namespace

TEST_CASE("blas kernels: taper pins OpenBLAS's kernels unless OPENBLAS_CORETYPE chooses others") {
  const std::string bin = taper_binary();
  if (bin.empty()) {
    MESSAGE("skipped: no taper binary beside this test binary (make build/taper)");
    return;
  }
  const TempDir dir;
  const std::string pinned = version_line(bin, dir / "pinned", {});
  CHECK_MESSAGE(contains(pinned, std::string("OpenBLAS ") + kPinnedBlasCore + " kernels\n"), pinned);
  CHECK_MESSAGE(contains(pinned, std::string("compiled for ") + compiled_arch()), pinned);
  const std::string chosen = version_line(bin, dir / "chosen", {"OPENBLAS_CORETYPE=Haswell"});
  CHECK_MESSAGE(contains(chosen, "OpenBLAS Haswell kernels (not the pinned ones)"), chosen);
}
