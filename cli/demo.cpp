// `taper demo`: the engine end to end on the CPU, in seconds. Trains the
// tiny CNN on the synthetic 4-class line images and reports held-out
// accuracy. (The TAPER demo replaces this once personalization lands.)
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include "cli/commands.h"
#include "cli/progress.h"
#include "nn/tiny_cnn.h"

namespace taper::cli {

namespace {
constexpr const char* kHelp =
    "usage: taper demo [--epochs N] [--seed S]\n\n"
    "Trains a small CNN (2 conv blocks with batch norm, global pooling, linear)\n"
    "on 1024 synthetic 16x16 images of 4 line orientations with SGD + momentum\n"
    "and a cosine schedule, then reports accuracy on 512 held-out images.\n\n"
    "  --epochs N   passes over the training images (default 8)\n"
    "  --seed S     fixes initialisation, data and shuffling (default 0)\n";

int parse_int(const std::string& flag, const char* value) {
  if (!value) throw std::invalid_argument(flag + " needs a value");
  char* end = nullptr;
  const long v = std::strtol(value, &end, 10);
  if (*end != '\0' || v < 0) throw std::invalid_argument(flag + " expects a non-negative integer, got '" + value + "'");
  return static_cast<int>(v);
}
}  // namespace

int run_demo(int argc, char** argv) {
  FitOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (arg == "--epochs") {
      options.epochs = parse_int(arg, i + 1 < argc ? argv[++i] : nullptr);
    } else if (arg == "--seed") {
      options.seed = static_cast<uint64_t>(parse_int(arg, i + 1 < argc ? argv[++i] : nullptr));
    } else {
      throw std::invalid_argument("unknown option '" + arg + "' (see taper demo --help)");
    }
  }
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
