// Data pipeline throughput: images/s for decode + augment, per image on one
// thread and through the Loader with its worker threads, for
//   cifar100         in-memory 32x32, CIFAR augmentation (crop + flip + normalise)
//   cifar100-styles  rendering a synthetic style on demand + CIFAR augmentation
//   pacs-64 JPEG     decoding JPEG files from disk + ImageNet augmentation to 224
// A benchmark, not a test: needs the data root (make data).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "bench/pinned_blas.h"
#include "bench/timing.h"
#include "data/augment.h"
#include "data/catalog.h"
#include "data/image_folder.h"
#include "data/loader.h"

using namespace taper;
using taper::bench::seconds_since;

namespace {

Transform cifar_train() {
  return [](const Image& im, Generator& gen, float* out) { augment_cifar(im, gen, true, kCifar100Normalization, out); };
}

Transform imagenet_train() {
  return [](const Image& im, Generator& gen, float* out) {
    augment_imagenet(im, gen, true, kImageNetNormalization, out);
  };
}

// One thread, no loader: the cost of one image's decode + augment, over
// images drawn across the whole dataset (every style, every domain).
double single_thread_rate(const Dataset& d, const Transform& t, int64_t count, int64_t side) {
  std::vector<float> out(3 * side * side);
  Generator pick(1);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < count; ++i) {
    Generator gen = augment_generator(0, 0, i);
    t(d.images->image(static_cast<int64_t>(pick.below(d.size()))), gen, out.data());
  }
  return count / seconds_since(t0);
}

// Through the loader: batches of 128 for a fixed number of batches.
double loader_rate(std::shared_ptr<const Dataset> d, const Transform& t, int64_t batches, int64_t side, int workers) {
  LoaderOptions o;
  o.batch_size = 128;
  o.workers = workers;
  o.height = o.width = side;
  Loader loader(std::move(d), o, t);
  loader.start_epoch(0);
  Batch b;
  const auto t0 = std::chrono::steady_clock::now();
  int64_t images = 0;
  for (int64_t i = 0; i < batches && loader.next(b); ++i) images += b.labels.numel();
  return images / seconds_since(t0);
}

void report(const char* name, const std::shared_ptr<const Dataset>& d, const Transform& t, int64_t count,
            int64_t side) {
  std::printf("%-34s %10.0f %14.0f %14.0f\n", name, single_thread_rate(*d, t, count, side),
              loader_rate(d, t, count / 128, side, 1), loader_rate(d, t, count / 128, side, 2));
  std::fflush(stdout);
}

std::shared_ptr<const Dataset> jpeg_files(const std::string& root) {
  ImageFolder folder;
  for (const std::string& domain : list_subfolders(root)) {
    ImageFolder f = scan_image_folder(root + "/" + domain);
    folder.paths.insert(folder.paths.end(), f.paths.begin(), f.paths.end());
    folder.labels.insert(folder.labels.end(), f.labels.begin(), f.labels.end());
  }
  auto d = std::make_shared<Dataset>();
  d->labels = folder.labels;
  d->images = std::make_shared<FileImageStore>(folder.paths);
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  taper::bench::pin_blas_as_taper_does(argv);
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (argc > 1 && !quick) {
    std::puts("usage: bench_data_pipeline [--quick]\n\nimages/s for decode + augment; needs `make data`.");
    return std::strcmp(argv[1], "--help") == 0 ? 0 : 2;
  }
  const int64_t n = quick ? 1024 : 8192;
  try {
    std::printf("# data pipeline, %lld images per row, data root %s\n", static_cast<long long>(n),
                data_root().c_str());
    std::printf("%-34s %10s %14s %14s\n", "pipeline", "1 thread", "loader 1 wkr", "loader 2 wkr");
    auto cifar = std::make_shared<const Dataset>(load_dataset("cifar100", "train"));
    report("cifar100 crop+flip (32)", cifar, cifar_train(), n, 32);
    auto styles = std::make_shared<const Dataset>(load_dataset("cifar100-styles", "train"));
    report("cifar100-styles render+crop (32)", styles, cifar_train(), n, 32);
    report("pacs-64 JPEG decode+rrc (224)", jpeg_files(data_root() + "/pacs-64"), imagenet_train(), n / 4, 224);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_data_pipeline: %s\n", e.what());
    return 1;
  }
  return 0;
}
