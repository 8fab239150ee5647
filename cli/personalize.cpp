// `taper personalize RUN_DIR --classes ... --out MODEL` and
// `taper predict MODEL IMAGE...`.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "data/augment.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "taper/free_text.h"
#include "taper/personalize.h"
#include "taper/pipeline.h"
#include "taper/suggest.h"

namespace taper::cli {

const char kPersonalizeHelp[] =
    "usage: taper personalize RUN_DIR --classes \"apple,bicycle,...\" [--domain NAME] --out MODEL.safetensors\n"
    "       taper personalize RUN_DIR --text \"a drinking glass with a base and stem; ...\" [--domain NAME]\n"
    "                                 --out MODEL.safetensors\n\n"
    "Turns a task description into one condensed ResNet without training: the mixer\n"
    "predictor maps the description to block-wise mixers, the bases are mixed layer by\n"
    "layer (equation 1) and only the task's classifier rows are kept. Prints the mixers,\n"
    "the parameter count and the time it took, and writes MODEL (safetensors with\n"
    "torchvision names; classes and mixers in its metadata).\n\n"
    "  --classes LIST  the task's classes by name (comma-separated)\n"
    "  --text TEXT     the task in free language, one ';'-separated part per class;\n"
    "                  the description is the mean of the parts' sentence embeddings\n"
    "                  and each part's closest class (printed) joins the task. Needs a\n"
    "                  run trained with tasks.description = \"text\" and the sentence\n"
    "                  encoder (`make text-model`)\n"
    "  --domain NAME   describe the task within a domain (domain-task runs)\n";

const char kPredictHelp[] =
    "usage: taper predict MODEL.safetensors IMAGE...\n\n"
    "Classifies PNG or JPEG images with a personalized model file alone (no bases):\n"
    "each image is prepared as in evaluation (shorter side resized, then a center crop\n"
    "of the model's input size; ImageNet-style data: resized to 8/7 of it first),\n"
    "normalised as in training, and the class and its probability among the model's\n"
    "classes are printed.\n";

namespace {

std::string closest(const std::string& name, const std::vector<std::string>& known) {
  std::string out;
  for (const auto& s : closest_names(name, known, 3)) out += (out.empty() ? "" : ", ") + s;
  return out;
}

int64_t index_of(const std::string& name, const std::vector<std::string>& known, const char* what) {
  auto it = std::find(known.begin(), known.end(), name);
  if (it == known.end()) {
    throw std::invalid_argument(std::string("unknown ") + what + " '" + name + "'; closest: " + closest(name, known));
  }
  return it - known.begin();
}

Task parse_task(const std::string& list, const std::string& domain, const ClassMetadata& meta) {
  Task task;
  std::stringstream in(list);
  for (std::string name; std::getline(in, name, ',');) {
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    std::replace(name.begin(), name.end(), ' ', '_');
    if (!name.empty()) task.classes.push_back(index_of(name, meta.class_names, "class"));
  }
  std::sort(task.classes.begin(), task.classes.end());
  task.classes.erase(std::unique(task.classes.begin(), task.classes.end()), task.classes.end());
  if (task.classes.empty()) throw std::invalid_argument("--classes lists no class");
  if (!domain.empty()) task.domain = index_of(domain, meta.domain_names, "domain");
  return task;
}

int64_t count_parameters(const TensorMap& params) {
  int64_t n = 0;
  for (const auto& [name, t] : params) n += t.numel();
  return n;
}

}  // namespace

// Prints each part's closest classes; the task holds each part's best.
FreeTextTask parse_free_text(const std::string& text, const std::string& domain, const Experiment& exp) {
  const ClassMetadata& meta = exp.train->meta;
  const int64_t d = domain.empty() ? -1 : index_of(domain, meta.domain_names, "domain");
  if (exp.describer->kind() == "bow") {
    throw std::invalid_argument("--text needs a run trained with tasks.description = \"text\"; this one reads "
                                "bag-of-words descriptions (use --classes)");
  }
  FreeTextTask t = free_text_task(text, *exp.describer, SentenceEncoder::load(), exp.num_classes(), d);
  std::printf("closest classes:\n");
  for (size_t p = 0; p < t.parts.size(); ++p) {
    std::printf("  \"%s\" ->", t.parts[p].c_str());
    for (const ClassMatch& m : t.closest[p]) std::printf(" %s (%.3f)", meta.class_names[m.label].c_str(), m.cosine);
    std::printf("\n");
  }
  return t;
}

int run_personalize(int argc, char** argv) {
  const Args args(argc, argv, {"--classes", "--text", "--domain", "--out"}, {});
  args.expect_positional(1, "one RUN_DIR");
  if (args.has("--classes") == args.has("--text") || !args.has("--out")) {
    throw std::invalid_argument("--out and one of --classes or --text are required");
  }
  const TrainedRun run = load_run(args.positional()[0]);
  Task task;
  std::vector<float> description;
  if (args.has("--text")) {
    FreeTextTask t = parse_free_text(args.get("--text"), args.get("--domain"), run.exp);
    task = t.task;
    description = std::move(t.description);
  } else {
    task = parse_task(args.get("--classes"), args.get("--domain"), run.exp.train->meta);
    description = run.exp.describe(task);
  }
  const auto start = std::chrono::steady_clock::now();
  const PersonalizedModel model = personalize(run.exp, run.taper, task, description);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("mixers (one row per block, %zu bases):\n", model.mixers.at(0).size());
  for (size_t b = 0; b < model.mixers.size(); ++b) {
    std::printf("  block %zu:", b);
    for (float a : model.mixers[b]) std::printf(" %.3f", a);
    std::printf("\n");
  }
  save_personalized(args.get("--out"), model);
  std::printf("personalized %s for %zu classes in %.1f ms: %lld parameters -> %s\n", model.arch.arch.c_str(),
              model.class_names.size(), ms, static_cast<long long>(count_parameters(model.params)),
              args.get("--out").c_str());
  return 0;
}

int run_predict(int argc, char** argv) {
  const Args args(argc, argv, {}, {});
  if (args.positional().size() < 2) throw std::invalid_argument("expected MODEL.safetensors and at least one IMAGE");
  PersonalizedModel model = load_personalized(args.positional()[0]);
  const ResNet net(model.arch);
  NoGradGuard no_grad;
  for (size_t i = 1; i < args.positional().size(); ++i) {
    const std::string& path = args.positional()[i];
    const int64_t side = model.input_size;
    Tensor x = Tensor::empty({1, 3, side, side});
    Generator unused(0);
    // Evaluation preprocessing: the shorter side resized, then a center crop of the input size.
    const bool imagenet = model.preprocessing == "imagenet";
    augment_imagenet(read_image(path), unused, false, imagenet ? kImageNetNormalization : kCifar100Normalization,
                     x.f32(), side, imagenet ? eval_resize(side) : side);
    const Tensor probs = softmax(net.forward(model.params, model.buffers, x, false));
    const float* p = probs.f32();
    const int64_t best = std::max_element(p, p + probs.size(1)) - p;
    std::printf("%s: %s (%.1f%%)\n", path.c_str(), model.class_names[best].c_str(), 100.0 * p[best]);
  }
  return 0;
}

}  // namespace taper::cli
