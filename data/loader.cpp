#include "data/loader.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "engine/backend.h"

namespace taper {

namespace {

// Every image's HWC bytes in one [N, H, W, 3] tensor on `device`.
Tensor upload_images(const Dataset& data, Device device) {
  check_arg(!data.images->decodes_files(), "Loader", [&] {
    return data.name + "/" + data.split + " decodes image files: resident mode needs images held in memory";
  });
  const Image first = data.images->image(0);
  const int64_t h = first.height, w = first.width, per_image = h * w * 3;
  Tensor host = Tensor::empty({data.size(), h, w, 3}, DType::U8);
  for (int64_t i = 0; i < data.size(); ++i) {
    const Image im = i == 0 ? first : data.images->image(i);
    check_arg(im.height == h && im.width == w && im.channels == 3, "Loader", [&] {
      return data.name + "/" + data.split + " image " + std::to_string(i) + " is " + std::to_string(im.height) + "x" +
             std::to_string(im.width) + "x" + std::to_string(im.channels) + ", resident mode needs every image " +
             std::to_string(h) + "x" + std::to_string(w) + " RGB";
    });
    std::memcpy(host.u8() + i * per_image, im.pixels.data(), per_image);
  }
  return host.to(device);
}

}  // namespace

Loader::Loader(std::shared_ptr<const Dataset> data, LoaderOptions options, Transform transform)
    : data_(std::move(data)), options_(options), transform_(std::move(transform)) {
  check_arg(data_ && data_->size() > 0, "Loader", [&] {
    return "no images in " + (data_ ? data_->name + "/" + data_->split : std::string("a null dataset"));
  });
  check_arg(options.batch_size > 0 && options.workers > 0 && options.prefetch > 0, "Loader",
            "batch_size, workers and prefetch must be positive");
  check_arg(!options.drop_last || data_->size() >= options.batch_size, "Loader", [&] {
    return "batch " + std::to_string(options.batch_size) + " exceeds the " + std::to_string(data_->size()) +
           " images of " + data_->name + "/" + data_->split;
  });
  if (options_.resident) resident_images_ = upload_images(*data_, options_.resident->device);
}

Loader::~Loader() { stop(); }

int64_t Loader::batches_per_epoch() const {
  const int64_t n = order_.empty() ? data_->size() : static_cast<int64_t>(order_.size()), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  if (options_.order) return options_.order(epoch);
  std::vector<int64_t> order(data_->size());
  for (int64_t i = 0; i < data_->size(); ++i) order[i] = i;
  if (!options_.shuffle) return order;
  // Stream 0 of the epoch's generator is the order; images use fork(i).
  Generator gen = Generator(options_.seed, static_cast<uint64_t>(epoch)).fork(UINT64_MAX);
  gen.shuffle(order);
  return order;
}

void Loader::start_epoch(int64_t epoch) {
  stop();
  epoch_ = epoch;
  order_ = epoch_order(epoch);
  for (int64_t i : order_) {
    check_arg(0 <= i && i < data_->size(), "Loader",
              [&] { return "epoch order names image " + std::to_string(i) + " of " + std::to_string(data_->size()); });
  }
  ready_.clear();
  error_ = nullptr;
  next_ = 0;
  stopping_ = false;
  started_ = true;
  if (options_.resident) return;  // batches are made on the device when asked for
  for (int w = 0; w < options_.workers; ++w) threads_.emplace_back(&Loader::work, this, w);
}

void Loader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

Batch Loader::make_batch(int64_t b) const {
  const int64_t begin = b * options_.batch_size;
  const int64_t rows = std::min(options_.batch_size, static_cast<int64_t>(order_.size()) - begin);
  const int64_t per_image = options_.channels * options_.height * options_.width;
  Batch batch{Tensor::empty({rows, options_.channels, options_.height, options_.width}),
              Tensor::empty({rows}, DType::I64), Tensor::empty({rows}, DType::I64), {}};
  const Generator epoch_gen(options_.seed, static_cast<uint64_t>(epoch_));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t index = order_[begin + r];
    Generator gen = epoch_gen.fork(static_cast<uint64_t>(index));
    transform_(data_->images->image(index), gen, batch.images.f32() + r * per_image);
    batch.labels.i64()[r] = data_->labels[index];
    batch.domains.i64()[r] = data_->domains.empty() ? 0 : data_->domains[index];
    batch.indices.push_back(index);
  }
  return batch;
}

// The crops are drawn on the host exactly as augment_cifar draws them; the
// pixels never leave the device.
Batch Loader::make_resident_batch(int64_t b) const {
  const ResidentCrop& rc = *options_.resident;
  const int64_t begin = b * options_.batch_size;
  const int64_t rows = std::min(options_.batch_size, static_cast<int64_t>(order_.size()) - begin);
  const int64_t h = resident_images_.size(1), w = resident_images_.size(2), pad = rc.p.padding;
  Batch batch{Tensor::empty({rows, 3, h, w}, DType::F32, rc.device), Tensor::empty({rows}, DType::I64),
              Tensor::empty({rows}, DType::I64), {}};
  Tensor crops = Tensor::empty({rows, 4}, DType::I64);
  const Generator epoch_gen(options_.seed, static_cast<uint64_t>(epoch_));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t index = order_[begin + r];
    Generator gen = epoch_gen.fork(static_cast<uint64_t>(index));
    const PadCrop crop = rc.augment ? sample_pad_crop(gen, pad) : PadCrop{pad, pad, false};
    int64_t* row = crops.i64() + 4 * r;
    row[0] = index, row[1] = crop.top, row[2] = crop.left, row[3] = crop.flip;
    batch.labels.i64()[r] = data_->labels[index];
    batch.domains.i64()[r] = data_->domains.empty() ? 0 : data_->domains[index];
    batch.indices.push_back(index);
  }
  backend_for(rc.device).pad_crop_normalize(resident_images_, crops.to(rc.device), batch.images, rc.p);
  return batch;
}

// Worker w makes batches w, w + workers, ...; it waits while it would run
// more than `prefetch` batches ahead of the consumer.
void Loader::work(int worker) {
  for (int64_t b = worker; b < batches_per_epoch(); b += options_.workers) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || b < next_ + options_.prefetch; });
      if (stopping_) return;
    }
    try {
      Batch batch = make_batch(b);
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(b, std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    changed_.notify_all();
  }
}

bool Loader::next(Batch& out) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!started_) throw std::logic_error("Loader::next: call start_epoch first");
  if (next_ >= batches_per_epoch()) return false;
  if (options_.resident) {
    out = make_resident_batch(next_++);
    return true;
  }
  changed_.wait(lock, [&] { return error_ || ready_.count(next_) > 0; });
  if (error_) std::rethrow_exception(error_);
  out = std::move(ready_.at(next_));
  ready_.erase(next_++);
  lock.unlock();
  changed_.notify_all();
  return true;
}

}  // namespace taper
