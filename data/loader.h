// Batches of engine tensors from a Dataset: a shuffled order fixed by
// (seed, epoch), images decoded and augmented on worker threads a few
// batches ahead of the trainer.
//
// Determinism: the order is a function of (seed, epoch), and image i's
// augmentation draws from Generator(seed, epoch).fork(i), so the batches are
// identical for any number of workers.
//
// Resident mode (LoaderOptions::resident), for training on a GPU: every
// image's bytes are uploaded to the device once, and each batch is cropped,
// flipped and normalised there by one kernel with the draws the CPU
// transform (augment_cifar) makes, so the batches are the same bits and the
// GPU never waits for decoding threads.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace taper {

// Writes one augmented image as float CHW [channels, height, width] to out.
using Transform = std::function<void(const Image& image, Generator& gen, float* out)>;

// Resident mode's augmentation: augment_cifar's, on `device`.
struct ResidentCrop {
  Device device;
  bool augment = true;  // sampled crops and flips; else the centred crop (evaluation)
  PadCropNormalize p;
};

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = true;  // training drops the last partial batch; evaluation keeps it
  int workers = 2;
  int prefetch = 4;  // batches decoded ahead of the consumer
  uint64_t seed = 0;
  int64_t channels = 3, height = 32, width = 32;  // the transform's output
  // Replaces the shuffled order: the dataset indices of an epoch, in batch
  // order (stage 3 lays out task groups this way). Must be a pure function
  // of the epoch for runs to be reproducible.
  std::function<std::vector<int64_t>(int64_t epoch)> order;
  // Set: resident mode (the transform is not called). Needs equal-sized RGB
  // images held in memory (not decoded from files).
  std::optional<ResidentCrop> resident;
};

struct Batch {
  Tensor images;                 // [B, C, H, W] float32
  Tensor labels;                 // [B] int64
  Tensor domains;                // [B] int64
  std::vector<int64_t> indices;  // dataset indices of the rows
};

class Loader {
 public:
  Loader(std::shared_ptr<const Dataset> data, LoaderOptions options, Transform transform);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Of the current epoch (the shuffled order has one entry per image; a
  // custom order may have any length).
  int64_t batches_per_epoch() const;
  // Starts producing the batches of this epoch (stops any epoch in flight).
  void start_epoch(int64_t epoch);
  // The next batch in order; false once the epoch is exhausted. Rethrows a
  // worker's error (e.g. a corrupt image) naming the file.
  bool next(Batch& out);

  // The image order of an epoch (exposed for tests and task assignment).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  void work(int worker);
  Batch make_batch(int64_t b) const;
  Batch make_resident_batch(int64_t b) const;
  void stop();

  std::shared_ptr<const Dataset> data_;
  LoaderOptions options_;
  Transform transform_;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int64_t, Batch> ready_;
  std::exception_ptr error_;
  int64_t next_ = 0;  // the batch the consumer takes next
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  bool started_ = false;
  Tensor resident_images_;  // [N, H, W, 3] U8 on the resident device
};

}  // namespace taper
