// `taper inspect FILE.safetensors ...`: validates checkpoints and models and
// says what they hold.
#include <cstdio>
#include <stdexcept>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/safetensors.h"

namespace taper::cli {

const char kInspectHelp[] =
    "usage: taper inspect FILE.safetensors [FILE.safetensors ...]\n\n"
    "Reads each file with the full safetensors validation (header, offsets,\n"
    "shapes, truncation) and prints its metadata (for a stage checkpoint: stage\n"
    "and epochs_done; for a personalized model: classes and mixers) and the number\n"
    "and total size of its tensors. Exits 1 at the first file that does not\n"
    "validate, naming it and what is wrong.\n";

int run_inspect(int argc, char** argv) {
  const Args args(argc, argv, {}, {});
  if (args.positional().empty()) throw std::invalid_argument("expected one or more FILE.safetensors");
  for (const std::string& path : args.positional()) {
    const SafetensorsFile file = load_safetensors(path);
    size_t bytes = 0;
    for (const auto& [name, t] : file.tensors) bytes += t.nbytes();
    std::printf("%s: %zu tensors, %zu bytes\n", path.c_str(), file.tensors.size(), bytes);
    for (const auto& [key, value] : file.metadata) {
      // The config is the whole TOML text of the run; its size is enough here.
      if (key == "config") {
        std::printf("  %s: (%zu bytes of TOML)\n", key.c_str(), value.size());
      } else {
        std::printf("  %s: %s\n", key.c_str(), value.c_str());
      }
    }
  }
  return 0;
}

}  // namespace taper::cli
