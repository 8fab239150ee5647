// build/taper: the single command-line entry point. Each subcommand lives
// in its own file under cli/ and is listed in commands.cpp.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "engine/cpu/blas_kernels.h"

int main(int argc, char** argv) {
  taper::pin_blas_kernels(argv);
  const std::string name = argc > 1 ? argv[1] : "--help";
  if (name == "--help" || name == "-h" || name == "help") {
    taper::cli::print_usage(stdout);
    return 0;
  }
  if (name == "--version") {
    // What decides the last bits of every trained number (Makefile, ARCH).
    std::printf("taper: compiled for %s, OpenBLAS %s kernels%s\n", taper::compiled_arch(), taper::blas_core_name(),
                std::string(taper::blas_core_name()) == taper::kPinnedBlasCore ? "" : " (not the pinned ones)");
    return 0;
  }
  for (const auto& c : taper::cli::all_commands()) {
    if (name != c.name) continue;
    for (int i = 2; i < argc; ++i) {
      if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
        std::fputs(c.help, stdout);
        return 0;
      }
    }
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "taper %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "taper: unknown command '%s'\n\n", name.c_str());
  taper::cli::print_usage(stderr);
  return 2;
}
