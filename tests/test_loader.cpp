// The loader: complete epochs, (seed, epoch)-determined order and
// augmentation regardless of worker count, errors surfaced with context.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "data/loader.h"
#include "engine/backend.h"

using namespace taper;

namespace {

// n 2x2 images whose pixels all equal their index (mod 256); label = index % 3.
std::shared_ptr<Dataset> counting_dataset(int64_t n) {
  auto d = std::make_shared<Dataset>();
  d->name = "counting";
  d->split = "train";
  d->meta.class_names = {"a", "b", "c"};
  std::vector<uint8_t> pixels(n * 2 * 2 * 3);
  for (int64_t i = 0; i < n; ++i) std::fill_n(pixels.begin() + i * 12, 12, static_cast<uint8_t>(i % 256));
  d->images = std::make_shared<MemoryImageStore>(n, 2, 2, std::move(pixels));
  for (int64_t i = 0; i < n; ++i) d->labels.push_back(i % 3);
  d->domains.assign(n, 0);
  return d;
}

// Copies pixel 0 and adds a random jitter, so the test sees the augmentation draw.
void jitter(const Image& im, Generator& gen, float* out) {
  const float noise = static_cast<float>(gen.next_double());
  for (int i = 0; i < 12; ++i) out[i] = im.pixels[0] + noise;
}

LoaderOptions options(int workers, bool drop_last = true) {
  LoaderOptions o;
  o.batch_size = 8;
  o.workers = workers;
  o.prefetch = 2;
  o.seed = 42;
  o.height = o.width = 2;
  o.drop_last = drop_last;
  return o;
}

std::vector<float> epoch_values(Loader& loader, int64_t epoch, std::vector<int64_t>* indices = nullptr) {
  loader.start_epoch(epoch);
  std::vector<float> values;
  Batch b;
  while (loader.next(b)) {
    values.insert(values.end(), b.images.f32(), b.images.f32() + b.images.numel());
    if (indices) indices->insert(indices->end(), b.indices.begin(), b.indices.end());
    for (int64_t r = 0; r < b.labels.numel(); ++r) CHECK(b.labels.i64()[r] == b.indices[r] % 3);
  }
  return values;
}

}  // namespace

TEST_CASE("loader: an epoch visits every image once; the last partial batch is kept or dropped") {
  auto data = counting_dataset(37);
  Loader keep(data, options(2, false), jitter);
  std::vector<int64_t> seen;
  epoch_values(keep, 0, &seen);
  CHECK(keep.batches_per_epoch() == 5);
  std::sort(seen.begin(), seen.end());
  std::vector<int64_t> all(37);
  std::iota(all.begin(), all.end(), 0);
  CHECK(seen == all);
  Loader drop(data, options(2, true), jitter);
  CHECK(drop.batches_per_epoch() == 4);
  std::vector<int64_t> dropped;
  epoch_values(drop, 0, &dropped);
  CHECK(dropped.size() == 32);
}

TEST_CASE("loader: the same (seed, epoch) gives the same batches for 1 or 3 workers") {
  auto data = counting_dataset(64);
  Loader one(data, options(1), jitter), three(data, options(3), jitter);
  CHECK(epoch_values(one, 3) == epoch_values(three, 3));
  CHECK(epoch_values(one, 3) != epoch_values(one, 4));
  CHECK(one.epoch_order(5) == three.epoch_order(5));
  CHECK(one.epoch_order(5) != one.epoch_order(6));
}

TEST_CASE("loader: a failing transform surfaces as an exception from next()") {
  auto data = counting_dataset(16);
  Loader loader(data, options(2), [](const Image& im, Generator&, float*) {
    if (im.pixels[0] == 5) throw DataError("image 5: corrupt");
  });
  loader.start_epoch(0);
  Batch b;
  CHECK_THROWS_WITH_AS(
      [&] {
        while (loader.next(b)) {
        }
      }(),
      "image 5: corrupt", DataError);
  // Stopping mid-epoch and restarting works.
  Loader again(data, options(2), jitter);
  again.start_epoch(0);
  REQUIRE(again.next(b));
  again.start_epoch(1);
  CHECK(again.next(b));
}

TEST_CASE("loader: bad options are rejected") {
  auto data = counting_dataset(4);
  CHECK_THROWS_WITH_AS(Loader(data, options(1), jitter), doctest::Contains("exceeds the 4 images"),
                       std::invalid_argument);
  LoaderOptions o = options(1);
  o.workers = 0;
  CHECK_THROWS_AS(Loader(counting_dataset(16), o, jitter), std::invalid_argument);
  Loader idle(counting_dataset(16), options(1), jitter);
  Batch b;
  CHECK_THROWS_AS(idle.next(b), std::logic_error);
}

namespace {
// n random 6x5 RGB images held in memory.
std::shared_ptr<Dataset> random_images(int64_t n) {
  auto d = counting_dataset(n);
  std::vector<uint8_t> pixels(n * 6 * 5 * 3);
  Generator gen(9);
  for (auto& p : pixels) p = static_cast<uint8_t>(gen.below(256));
  d->images = std::make_shared<MemoryImageStore>(n, 6, 5, std::move(pixels));
  return d;
}

// Every batch of an epoch, flattened.
std::vector<float> all_values(Loader& loader, int64_t epoch, Device device) {
  loader.start_epoch(epoch);
  std::vector<float> values;
  Batch b;
  while (loader.next(b)) {
    CHECK(b.images.device() == device);
    const std::vector<float> v = b.images.to_vector();
    values.insert(values.end(), v.begin(), v.end());
  }
  return values;
}

// Resident mode on `device` against the CPU transform, training and evaluation.
void check_resident_equals_transform(Device device) {
  auto data = random_images(37);
  for (bool train : {true, false}) {
    CAPTURE(train);
    LoaderOptions o = options(2, false);
    o.height = 6, o.width = 5;
    Loader cpu(data, o, [train](const Image& im, Generator& gen, float* out) {
      augment_cifar(im, gen, train, kCifar100Normalization, out, 2);
    });
    o.resident = ResidentCrop{device, train, pad_crop_parameters(2, kCifar100Normalization)};
    Loader resident(data, o, nullptr);
    CHECK(resident.batches_per_epoch() == cpu.batches_per_epoch());
    for (int64_t epoch : {0, 3}) CHECK(all_values(resident, epoch, device) == all_values(cpu, epoch, Device::cpu()));
  }
}
}  // namespace

TEST_CASE("loader: resident batches equal the CPU transform's bit for bit (CPU backend)") {
  check_resident_equals_transform(Device::cpu());
}

TEST_CASE("cuda: resident batches on the GPU equal the CPU transform's bit for bit") {
  try {
    require_device(Device::cuda());
  } catch (const std::exception& e) {
    MESSAGE("skipped (needs a GPU): " << std::string(e.what()));
    return;
  }
  check_resident_equals_transform(Device::cuda());
}

TEST_CASE("loader: resident mode refuses images of different sizes, naming the image") {
  auto data = random_images(3);
  struct Mixed final : ImageStore {
    int64_t size() const override { return 2; }
    Image image(int64_t i) const override {
      Image im;
      im.height = 4 + i, im.width = 4, im.channels = 3;
      im.pixels.assign(im.height * 4 * 3, 0);
      return im;
    }
  };
  data->images = std::make_shared<Mixed>();
  data->labels.resize(2), data->domains.resize(2);
  LoaderOptions o = options(1, false);
  o.resident = ResidentCrop{Device::cpu(), true, {}};
  CHECK_THROWS_WITH_AS(Loader(data, o, nullptr), doctest::Contains("image 1 is 5x4x3"), std::invalid_argument);
}
