// `taper train CONFIG --out RUN_DIR [--resume]` and `taper eval RUN_DIR`.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "taper/pipeline.h"

namespace taper::cli {

const char kTrainHelp[] =
    "usage: taper train CONFIG.toml --out RUN_DIR [--resume] [--device cpu|cuda] [--tf32]\n\n"
    "Runs TAPER's three training stages (paper section 3.4) and the standard baseline\n"
    "as CONFIG describes (every key is documented in taper/config.h), then evaluates\n"
    "them under the paper's protocol. RUN_DIR receives the effective config, one\n"
    "checkpoint per stage (written atomically after every epoch), log.jsonl (one line\n"
    "per epoch) and eval.json.\n\n"
    "  --out RUN_DIR  where the run lives (created if missing)\n"
    "  --resume       continue an interrupted run in RUN_DIR; it ends with the same\n"
    "                 weights an uninterrupted run reaches\n"
    "  --device DEV   where to train and evaluate: cpu (default) or cuda (cuda:N);\n"
    "                 fails at once with 'no CUDA device' when there is none. The\n"
    "                 checkpoints are the same files on either device, so a run can\n"
    "                 be resumed on the other\n"
    "  --tf32         let the GPU use TF32 for FP32 GEMM and convolution (faster,\n"
    "                 about 3 decimal digits; off by default)\n";

const char kEvalHelp[] =
    "usage: taper eval RUN_DIR [--description bow|text|definitions] [--device cpu|cuda]\n\n"
    "Evaluates a finished run under the paper's protocol: every test image gets its\n"
    "own task (seeded by tasks.eval_seed); reports standard accuracy (all classes),\n"
    "classifier-selection accuracy (within the task) and TAPER's accuracy (the\n"
    "network personalized for each image's task), and rewrites RUN_DIR/eval.json.\n\n"
    "  --description KIND  describe the evaluation tasks otherwise than in training\n"
    "                      (free language, paper section 5.1: a run trained on class\n"
    "                      names, \"text\", evaluated on WordNet definitions,\n"
    "                      \"definitions\"); also reports the mean cosine between the\n"
    "                      mixers from both and writes RUN_DIR/eval-KIND.json\n"
    "  --device DEV        where to evaluate: cpu (default) or cuda\n";

int run_train(int argc, char** argv) {
  const Args args(argc, argv, {"--out", "--device"}, {"--resume", "--tf32"});
  args.expect_positional(1, "one CONFIG.toml");
  if (!args.has("--out")) throw std::invalid_argument("--out RUN_DIR is required");
  const Device device = parse_device(args.get("--device", "cpu"));
  require_device(device);  // before the config and data are read
  set_allow_tf32(args.has("--tf32"));
  train_run(load_config(args.positional()[0]), args.get("--out"), args.has("--resume"), device);
  return 0;
}

int run_eval(int argc, char** argv) {
  const Args args(argc, argv, {"--description", "--device"}, {});
  args.expect_positional(1, "one RUN_DIR");
  const std::string dir = args.positional()[0];
  const Device device = parse_device(args.get("--device", "cpu"));
  if (!args.has("--description")) {
    TrainedRun run = load_run(dir, nullptr, device);
    write_eval(dir, evaluate_run(run), run.exp.config);
    return 0;
  }
  const nlohmann::json kind = args.get("--description");  // dump() quotes it as a TOML basic string
  RunConfig evaluation = load_config(dir + "/config.toml");
  // Through the config parser: an unknown kind is rejected as a config value is.
  evaluation.tasks.description = parse_config("[tasks]\ndescription = " + kind.dump() + "\n", "--description").tasks.description;
  TrainedRun run = load_run(dir, &evaluation, device);
  write_eval(dir, evaluate_run(run), run.exp.config, "eval-" + evaluation.tasks.description + ".json");
  return 0;
}

}  // namespace taper::cli
