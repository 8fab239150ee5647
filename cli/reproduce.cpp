// `taper reproduce --scale S [--only NAME,...] [--seeds N] [--check | --plan | --claims]`.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "taper/reproduce.h"

namespace taper::cli {

const char kReproduceHelp[] =
    "usage: taper reproduce --scale SCALE [--only NAME,...] [--seeds N] [--check | --plan | --claims]\n"
    "                       [--device cpu|cuda] [--tf32]\n\n"
    "Runs the paper's tables and figures as experiments/SCALE/NAME.toml describe them\n"
    "(SCALE: tiny, mini, gpu, paper), across seeds, sharing runs and stage checkpoints\n"
    "between rows, resuming interrupted runs (runs/SCALE/), and writes\n"
    "results/SCALE/NAME.{md,csv,json}: mean +- std per row, the paper's value, a verdict\n"
    "per claim, and the command, commit, seeds, machine and wall time.\n\n"
    "  --only NAME,...  just these experiments (default: every file of the scale)\n"
    "  --seeds N        seeds per row (default: each file's own)\n"
    "  --device DEV     where runs train and evaluate: cpu (default) or cuda; fails at\n"
    "                   once with 'no CUDA device' without a GPU\n"
    "  --tf32           let the GPU use TF32 for FP32 GEMM and convolution (faster,\n"
    "                   about 3 decimal digits; off by default)\n"
    "  --check          regression mode (`make regress`): run into build/regress/ and\n"
    "                   compare every row with the committed results/SCALE/NAME.json\n"
    "                   within the file's tolerance; exit 1 on any difference\n"
    "  --plan           check every experiment file and print, per experiment, its\n"
    "                   rows and the runs they need (finished, or to train), then the\n"
    "                   distinct trainings the unfinished runs still need once shared\n"
    "                   checkpoints are trained once (epochs per network, and hours at\n"
    "                   the fastest epochs the scale's run logs measured); trains nothing\n"
    "  --claims         print every claim of results/SCALE/*.json as one Markdown table\n"
    "                   (the paper's numbers, ours, the verdict, the command); trains nothing\n";

namespace {

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string s; std::getline(in, s, ',');) {
    if (!s.empty()) out.push_back(s);
  }
  return out;
}
}  // namespace

int run_reproduce(int argc, char** argv) {
  const Args args(argc, argv, {"--scale", "--only", "--seeds", "--device"}, {"--check", "--plan", "--claims", "--tf32"});
  args.expect_positional(0, "no positional arguments");
  if (!args.has("--scale")) throw std::invalid_argument("--scale is required (tiny, mini, gpu or paper)");
  ReproduceOptions o;
  o.scale = args.get("--scale");
  o.only = split(args.get("--only"));
  o.seeds = args.count("--seeds", 0);
  if (args.has("--claims")) {
    std::fputs(claims_table(o.results_dir, o.scale).c_str(), stdout);
    return 0;
  }
  o.plan = args.has("--plan");
  if (o.plan && args.has("--check")) throw std::invalid_argument("--plan and --check exclude each other");
  o.device = parse_device(args.get("--device", "cpu"));
  set_allow_tf32(args.has("--tf32"));
  for (int i = 0; i < argc; ++i) o.command += (i ? " " : "taper ") + std::string(argv[i]);
  if (!args.has("--check")) {
    reproduce(o);
    return 0;
  }
  o.results_dir = "build/regress/results";
  o.runs_dir = "build/regress/runs";
  const std::vector<std::string> skipped = reproduce(o);
  std::vector<std::string> failures;
  for (const auto& name : o.only.empty() ? experiment_names(o.experiments_dir, o.scale) : o.only) {
    if (std::find(skipped.begin(), skipped.end(), name) != skipped.end()) continue;  // said so on stderr
    for (auto& f : compare_results("results/" + o.scale + "/" + name + ".json",
                                   o.results_dir + "/" + o.scale + "/" + name + ".json")) {
      failures.push_back(f);
    }
  }
  for (const auto& f : failures) std::fprintf(stderr, "regress: %s\n", f.c_str());
  std::fprintf(stderr, "regress: %s\n", failures.empty() ? "every number within tolerance" : "FAILED");
  return failures.empty() ? 0 : 1;
}

}  // namespace taper::cli
