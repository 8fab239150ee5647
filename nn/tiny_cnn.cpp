#include "nn/tiny_cnn.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/init.h"
#include "engine/lr_schedule.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/sgd.h"
#include "nn/metrics.h"

namespace taper {

namespace {

void add_batch_norm(TinyCnn& m, const std::string& name, int64_t channels) {
  m.params[name + ".weight"] = Tensor::full({channels}, 1.0f).set_requires_grad(true);
  m.params[name + ".bias"] = Tensor::zeros({channels}).set_requires_grad(true);
  m.buffers[name + ".running_mean"] = Tensor::zeros({channels});
  m.buffers[name + ".running_var"] = Tensor::full({channels}, 1.0f);
}

Tensor conv_bn_relu(TinyCnn& m, const Tensor& x, const std::string& conv, const std::string& bn, bool training) {
  Tensor h = conv2d(x, m.params[conv + ".weight"], Tensor(), {1, 1});
  return batch_norm_relu(h, m.params[bn + ".weight"], m.params[bn + ".bias"], m.buffers[bn + ".running_mean"],
                         m.buffers[bn + ".running_var"], training);
}

// A permutation of [0, n) drawn from gen (Fisher-Yates).
std::vector<int64_t> shuffled(int64_t n, Generator& gen) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[gen.below(i + 1)]);
  return order;
}

ImageBatch gather_rows(const ImageBatch& data, const std::vector<int64_t>& rows) {
  ImageBatch out = slice(data, 0, static_cast<int64_t>(rows.size()));
  const int64_t per_image = data.images.numel() / data.images.size(0);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::copy_n(data.images.f32() + rows[i] * per_image, per_image, out.images.f32() + i * per_image);
    out.labels.i64()[i] = data.labels.i64()[rows[i]];
  }
  return out;
}

}  // namespace

TinyCnn::TinyCnn(int64_t classes, uint64_t seed) {
  Generator gen = Generator(seed).fork(0);
  params["conv1.weight"] = Tensor::empty({8, 3, 3, 3});
  params["conv2.weight"] = Tensor::empty({16, 8, 3, 3});
  kaiming_normal(params["conv1.weight"], gen);
  kaiming_normal(params["conv2.weight"], gen);
  add_batch_norm(*this, "bn1", 8);
  add_batch_norm(*this, "bn2", 16);
  // PyTorch's nn.Linear default: uniform(+-1/sqrt(fan_in)).
  const float bound = 1.0f / std::sqrt(16.0f);
  params["fc.weight"] = Tensor::empty({classes, 16});
  params["fc.bias"] = Tensor::empty({classes});
  gen.uniform(params["fc.weight"], -bound, bound);
  gen.uniform(params["fc.bias"], -bound, bound);
  for (auto& [name, p] : params) p.set_requires_grad(true);
}

Tensor TinyCnn::forward(const Tensor& images, bool training) {
  Tensor h = conv_bn_relu(*this, images, "conv1", "bn1", training);
  h = max_pool2d(h, 2, 2);
  h = conv_bn_relu(*this, h, "conv2", "bn2", training);
  return linear(global_avg_pool(h), params["fc.weight"], params["fc.bias"]);
}

std::vector<Tensor> TinyCnn::parameter_list() {
  std::vector<Tensor> list;
  for (auto& [name, p] : params) list.push_back(p);
  return list;
}

void fit(TinyCnn& model, const ImageBatch& train, const FitOptions& o,
         const std::function<void(const EpochReport&)>& progress) {
  const int64_t n = train.images.size(0), steps = n / o.batch;  // drop the last partial batch
  check_arg(steps > 0, "fit",
            [&] { return "batch " + std::to_string(o.batch) + " exceeds the " + std::to_string(n) + " images"; });
  Sgd opt(model.parameter_list(), SgdHyper{o.lr, o.momentum, 0.0f, o.weight_decay, false});
  LrSchedule schedule;
  schedule.kind = LrSchedule::Kind::Cosine;
  schedule.base_lr = o.lr;
  schedule.total_steps = steps * o.epochs;
  Generator shuffle = Generator(o.seed).fork(1);
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    const std::vector<int64_t> order = shuffled(n, shuffle);
    int64_t seen = 0, hits = 0;
    for (int64_t s = 0; s < steps; ++s) {
      ImageBatch batch = gather_rows(train, {order.begin() + s * o.batch, order.begin() + (s + 1) * o.batch});
      opt.set_lr(static_cast<float>(schedule.lr(epoch * steps + s)));
      opt.zero_grad();
      Tensor logits = model.forward(batch.images, true);
      Tensor loss = cross_entropy(logits, batch.labels);
      loss.backward();
      opt.step();
      seen += o.batch;
      hits += count_correct(logits, batch.labels);
      if (progress) progress({epoch, o.epochs, s + 1, steps, loss.item(), float(hits) / float(seen)});
    }
  }
}

float accuracy(TinyCnn& model, const ImageBatch& data) {
  NoGradGuard no_grad;
  return float(count_correct(model.forward(data.images, false), data.labels)) / float(data.images.size(0));
}

}  // namespace taper
