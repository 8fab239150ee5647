// `taper demo`: the engine end to end on the CPU, in seconds. Trains the
// tiny CNN on the synthetic 4-class line images and reports held-out
// accuracy. (The TAPER demo replaces this once personalization lands.)
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "nn/tiny_cnn.h"
#include "taper/progress.h"

namespace taper::cli {

namespace {
constexpr const char* kHelp =
    "usage: taper demo [--epochs N] [--seed S]\n\n"
    "Trains a small CNN (2 conv blocks with batch norm, global pooling, linear)\n"
    "on 1024 synthetic 16x16 images of 4 line orientations with SGD + momentum\n"
    "and a cosine schedule, then reports accuracy on 512 held-out images.\n\n"
    "  --epochs N   passes over the training images (default 8)\n"
    "  --seed S     fixes initialisation, data and shuffling (default 0)\n";

}  // namespace

int run_demo(int argc, char** argv) {
  const Args args(argc, argv, {"--epochs", "--seed"}, {});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  args.expect_positional(0, "no positional arguments");
  FitOptions options;
  options.epochs = static_cast<int>(args.count("--epochs", options.epochs));
  options.seed = static_cast<uint64_t>(args.count("--seed", 0));
  const ImageBatch train = make_synthetic_shapes(1024, 16, options.seed * 2 + 1);
  const ImageBatch test = make_synthetic_shapes(512, 16, options.seed * 2 + 2);
  TinyCnn model(4, options.seed);
  std::printf("taper demo: tiny CNN on synthetic line images (1024 train / 512 test, seed %llu)\n",
              static_cast<unsigned long long>(options.seed));
  std::fflush(stdout);
  std::optional<ProgressBar> bar;  // one per epoch
  char metrics[64];
  fit(model, train, options, [&](const EpochReport& r) {
    if (r.step == 1) {
      bar.emplace("epoch " + std::to_string(r.epoch + 1) + "/" + std::to_string(r.epochs), r.steps * options.batch,
                  "img");
    }
    std::snprintf(metrics, sizeof metrics, "loss %.4f  acc %.3f", r.loss, r.train_accuracy);
    if (r.step == r.steps) {
      bar->finish(metrics);
    } else {
      bar->update(r.step * options.batch, metrics);
    }
  });
  std::printf("held-out accuracy: %.2f%%\n", 100.0 * accuracy(model, test));
  return 0;
}

}  // namespace taper::cli
