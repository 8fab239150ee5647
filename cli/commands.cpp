#include "cli/commands.h"

namespace taper::cli {

const std::vector<Command>& all_commands() {
  static const std::vector<Command> commands = {
      {"dataset", "summarise a dataset (counts, classes, domains) and show sampled tasks", kDatasetHelp, run_dataset},
      {"train", "run TAPER's three training stages and the baseline from a TOML config", kTrainHelp, run_train},
      {"eval", "evaluate a finished run under the paper's protocol", kEvalHelp, run_eval},
      {"personalize", "mix a personalized model for a list of classes, without training", kPersonalizeHelp, run_personalize},
      {"predict", "classify images with a personalized model file", kPredictHelp, run_predict},
      {"reproduce", "rerun the paper's tables at a scale and write results/ (or check them)", kReproduceHelp, run_reproduce},
      {"inspect", "validate checkpoint or model files and show their metadata", kInspectHelp, run_inspect},
  };
  return commands;
}

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: taper <command> [options]\n\n"
               "Train-Once-for-All Personalization (TAPER, CVPR 2023), from scratch in C++.\n\n"
               "commands:\n");
  for (const auto& c : all_commands()) std::fprintf(out, "  %-12s %s\n", c.name, c.summary);
  std::fprintf(out, "\n`taper <command> --help` explains a command's options; `taper --version` names the\n"
                    "build and OpenBLAS kernels, which decide the last bits of every trained number.\n");
}

}  // namespace taper::cli
