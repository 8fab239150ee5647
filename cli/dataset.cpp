// `taper dataset NAME`: what a dataset holds and what its tasks look like.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <map>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "data/catalog.h"
#include "data/preview.h"

namespace taper::cli {

const char kDatasetHelp[] =
    "usage: taper dataset NAME [--k K] [--tasks N] [--seed S] [--preview FILE.png]\n"
    "                          [--export DIR [--classes a,b,...] [--count N]]\n\n"
    "Prints the image counts per split (and per domain), the numbers of classes,\n"
    "super-categories and domains, and N sampled tasks of every task sampler that\n"
    "fits the dataset (paper section 4). NAME: cifar100, cifar100-styles, pacs,\n"
    "imagenet, inaturalist2021, domainnet (data/README.md: where to get each).\n"
    "Data is read from $TAPER_DATA, else ./data (`make data` fills it).\n\n"
    "  --k K      classes per task (default 5)\n"
    "  --tasks N  tasks shown per sampler (default 3)\n"
    "  --seed S   sampling seed (default 0)\n\n"
    "  --preview FILE.png  also draw a picture of the training images: one row per\n"
    "                      domain, the first image of ten classes spread over the labels\n"
    "                      (results/figures/cifar100-styles.png, pacs-64-domains.png)\n"
    "  --export DIR        also write test images as PNG files DIR/<index>_<class>.png\n"
    "  --classes a,b,...   only images of these classes (default: all)\n"
    "  --count N           how many images to write (default 8)\n";

namespace {


void print_counts(const Dataset& d) {
  std::map<int64_t, int64_t> per_domain;
  for (int64_t dom : d.domains) ++per_domain[dom];
  std::printf("  %-6s %7lld images", d.split.c_str(), static_cast<long long>(d.size()));
  if (d.meta.domain_names.size() > 1) {
    for (const auto& [dom, n] : per_domain) {
      std::printf("  %s %lld", d.meta.domain_names.at(dom).c_str(), static_cast<long long>(n));
    }
  }
  std::printf("\n");
}

std::string describe(const Task& t, const ClassMetadata& meta) {
  std::string s = "{";
  for (size_t i = 0; i < t.classes.size(); ++i) s += (i ? ", " : "") + meta.class_names.at(t.classes[i]);
  s += "}";
  if (t.domain >= 0) s += " in " + meta.domain_names.at(t.domain);
  return s;
}

void print_tasks(const std::string& name, const Dataset& d, int64_t k, int64_t count, uint64_t seed) {
  for (TaskKind kind : task_kinds_for(name, d.meta)) {
    const int64_t classes = std::min<int64_t>(k, d.meta.num_classes());
    TaskSampler sampler = make_task_sampler(name, d.meta, {kind, classes, classes});
    std::printf("\n%s tasks (k = %lld):\n", task_kind_name(kind), static_cast<long long>(classes));
    Generator gen(seed);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t image = static_cast<int64_t>(gen.below(d.size()));
      const int64_t label = d.labels[image];
      Task t = sampler.sample(label, d.domains.empty() ? 0 : d.domains[image], gen);
      std::printf("  image %lld (%s): %s\n", static_cast<long long>(image), d.meta.class_names[label].c_str(),
                  describe(t, d.meta).c_str());
    }
  }
}

// Writes `count` test images of the wanted classes, spread over the split.
void export_images(const Dataset& test, const std::string& dir, const std::string& classes, int64_t count) {
  std::set<std::string> wanted;
  std::stringstream in(classes);
  for (std::string name; std::getline(in, name, ',');) {
    if (!name.empty()) wanted.insert(name);
  }
  for (const auto& name : wanted) {
    if (std::find(test.meta.class_names.begin(), test.meta.class_names.end(), name) == test.meta.class_names.end()) {
      throw std::invalid_argument("--classes: unknown class '" + name + "'");
    }
  }
  std::filesystem::create_directories(dir);
  int64_t written = 0;
  for (int64_t i = 0; i < test.size() && written < count; ++i) {
    const std::string& name = test.meta.class_names[test.labels[i]];
    if (!wanted.empty() && !wanted.count(name)) continue;
    const std::string path = dir + "/" + std::to_string(i) + "_" + name + ".png";
    write_png(path, test.images->image(i));
    std::printf("wrote %s\n", path.c_str());
    ++written;
  }
}

// Writes the training images' preview: a row per domain, cells of at least 96 pixels.
void write_preview(const Dataset& train, const std::string& path) {
  const auto rows = domain_preview_rows(train, 10);
  int64_t widest = 1;
  for (const auto& row : rows) {
    for (const Image& im : row) widest = std::max(widest, im.width);
  }
  write_png(path, preview_grid(rows, std::max<int64_t>(1, 96 / widest)));
  std::string domains;
  for (const auto& name : train.meta.domain_names) domains += (domains.empty() ? "" : ", ") + name;
  std::printf("wrote %s (rows: %s)\n", path.c_str(), domains.empty() ? train.name.c_str() : domains.c_str());
}

}  // namespace

int run_dataset(int argc, char** argv) {
  const Args args(argc, argv, {"--k", "--tasks", "--seed", "--export", "--classes", "--count", "--preview"}, {});
  args.expect_positional(1, "one dataset NAME");
  const std::string name = args.positional()[0];
  const int64_t k = args.count("--k", 5), count = args.count("--tasks", 3);
  const uint64_t seed = static_cast<uint64_t>(args.count("--seed", 0));
  if (k < 1) throw std::invalid_argument("--k must be at least 1");
  const Dataset train = load_dataset(name, "train"), test = load_dataset(name, "test");
  const ClassMetadata& meta = train.meta;
  std::printf("%s (data root %s)\n", name.c_str(), data_root().c_str());
  print_counts(train);
  print_counts(test);
  std::printf("  %lld classes, %zu super-categories, %zu domains\n", static_cast<long long>(meta.num_classes()),
              meta.super_names.size(), meta.domain_names.size());
  print_tasks(name, train, k, count, seed);
  if (args.has("--preview")) write_preview(train, args.get("--preview"));
  if (args.has("--export")) export_images(test, args.get("--export"), args.get("--classes"), args.count("--count", 8));
  return 0;
}

}  // namespace taper::cli
