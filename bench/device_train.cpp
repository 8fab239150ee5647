// Benchmark: a ResNet training step and a TAPER personalization on one device
// (the CPU or a GPU), the numbers scripts/gpu-check.sh records.
//
//   train: SGD steps (momentum 0.9, weight decay) of a CIFAR-style ResNet on
//     100 classes, batch on the device already (the data path is measured on
//     its own line: one batch's upload from the host). The first steps, which
//     include cuDNN's algorithm search, are warm-up and not timed; every step
//     reads its loss back, as the trainer does, so the time is the device's;
//     images/s from the median step.
//     On the CPU also GFLOP/s (3 x the forward pass's multiply-adds x 2 per
//     image: forward, data and weight gradients; the stem's data gradient,
//     which is not computed, is counted, 1% at resnet8) against an sgemm peak
//     measured in the same run: the fraction of the machine a step uses.
//   eval: forward passes in inference mode, logits read back.
//   personalize: task description -> mixer predictor -> block-wise mixers ->
//     mixed ResNet (equation 1) -> classifier selection for k classes, with Q
//     bases on the device; the median over repetitions, ending with the
//     personalized weights ready on the device.
//
// Usage: build/bench_device_train [--device cpu|cuda] [--arch resnet18] [--batch 128]
//        [--steps 20] [--bases 10] [--tf32] [--quick] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench/pinned_blas.h"
#include "bench/sgemm_peak.h"
#include "bench/timing.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/sgd.h"
#include "taper/basis_mixing.h"
#include "taper/classifier_selection.h"
#include "taper/mixer_predictor.h"

using namespace taper;

namespace {

using taper::bench::Clock;
using taper::bench::median_seconds;
using taper::bench::seconds_since;

struct Options {
  Device device = Device::cpu();
  std::string arch = "resnet18";
  double width = 1.0;
  int64_t batch = 128, steps = 20, warmup = 3, bases = 10, classes = 100, k = 5, repeats = 20;
  bool quick = false;
  std::string json;
};

const char kHelp[] =
    "usage: bench_device_train [--device cpu|cuda] [--arch resnet18] [--width 1.0] [--batch 128] [--steps 20]\n"
    "                          [--bases 10] [--tf32] [--quick] [--json FILE]\n"
    "Times ResNet training steps (images/s; GFLOP/s, and on the CPU their share of an sgemm peak measured\n"
    "in the same run) and TAPER personalization (ms) on one device.\n"
    "  --quick  a tiny network and two steps: checks that the benchmark still runs\n";

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--device") o.device = parse_device(value());
    else if (a == "--arch") o.arch = value();
    else if (a == "--width") o.width = std::stod(value());
    else if (a == "--batch") o.batch = std::stoll(value());
    else if (a == "--steps") o.steps = std::stoll(value());
    else if (a == "--bases") o.bases = std::stoll(value());
    else if (a == "--json") o.json = value();
    else if (a == "--tf32") set_allow_tf32(true);
    else if (a == "--quick") o.arch = "resnet8", o.batch = 8, o.steps = 2, o.warmup = 1, o.bases = 2, o.repeats = 2, o.quick = true;
    else if (a == "--help") std::fputs(kHelp, stdout), std::exit(0);
    else throw std::invalid_argument("unknown flag " + a + " (see --help)");
  }
  return o;
}

TensorMap to_device(TensorMap m, Device d, bool leaves) {
  for (auto& [n, t] : m) {
    t = t.to(d).detach();
    if (leaves) t.set_requires_grad(true);
  }
  return m;
}

ResNet network(const Options& o) {
  ResNetConfig rc;
  rc.arch = o.arch;
  rc.width = o.width;
  rc.num_classes = o.classes;
  return ResNet(rc);
}

Tensor random_images(int64_t n, uint64_t seed) {
  Tensor t = Tensor::empty({n, 3, 32, 32});
  Generator(seed).normal(t, 0.0f, 1.0f);
  return t;
}

struct TrainResult {
  double images_per_second = 0, eval_images_per_second = 0, upload_ms = 0, final_loss = 0;
};

TrainResult bench_train(const Options& o) {
  const ResNet net = network(o);
  Generator gen(1);
  TensorMap params = to_device(net.init_parameters(gen), o.device, true);
  TensorMap buffers = to_device(net.init_buffers(), o.device, false);
  std::vector<Tensor> list;
  for (auto& [n, t] : params) list.push_back(t);
  Sgd opt(list, SgdHyper{0.1f, 0.9f, 0.0f, 5e-4f, false});
  const Tensor host_images = random_images(o.batch, 2);
  std::vector<int64_t> labels(o.batch);
  for (int64_t i = 0; i < o.batch; ++i) labels[i] = i % o.classes;
  const Tensor images = host_images.to(o.device), l = Tensor::from_labels(labels).to(o.device);
  auto step = [&] {
    opt.zero_grad();
    Tensor loss = cross_entropy(net.forward(params, buffers, images, true), l);
    loss.backward();
    opt.step();
    return loss.item();
  };
  for (int64_t s = 1; s < o.warmup; ++s) step();  // median_seconds makes the last warm-up step
  TrainResult r;
  r.images_per_second = o.batch / median_seconds(o.steps, [&] { r.final_loss = step(); });
  {
    NoGradGuard no_grad;  // evaluation: inference-mode batch norm, logits read back
    auto forward = [&] { (void)net.forward(params, buffers, images, false).to_vector(); };
    r.eval_images_per_second = o.batch / median_seconds(o.steps, forward);
  }
  const auto up = Clock::now();
  for (int i = 0; i < 5; ++i) (void)host_images.to(o.device).to_vector();  // round trip bounds the upload
  r.upload_ms = seconds_since(up) / 5 * 1e3;
  return r;
}

// The training step's arithmetic rate, and on the CPU its share of the sgemm
// peak (skipped by --quick: the peak takes a second).
void print_efficiency(const Options& o, const TrainResult& t) {
  const double flops = 3.0 * 2.0 * static_cast<double>(network(o).multiply_adds(32, 32));
  const double gflops = flops * t.images_per_second * 1e-9;
  std::printf("      %.1f GFLOP/s at %.1f MFLOP an image", gflops, flops * 1e-6);
  if (o.device.is_cpu() && !o.quick) {
    const double peak = taper::bench::sgemm_peak_gflops();
    std::printf(", %.1f%% of the sgemm peak measured now (%.1f GFLOP/s, 2048^3)", 100 * gflops / peak, peak);
  }
  std::printf("\n");
}

double bench_personalize(const Options& o) {
  NoGradGuard no_grad;
  const ResNet net = network(o);
  const MixerLayout layout = make_mixer_layout(net, "block", "first-stage", "last-stage");
  const MixerPredictor predictor(o.classes, 256, layout.num_blocks, o.bases);
  Generator gen(3);
  Bases bases;
  for (int64_t q = 0; q < o.bases; ++q) {
    bases.params.push_back(to_device(net.init_parameters(gen), o.device, false));
    bases.buffers.push_back(to_device(net.init_buffers(), o.device, false));
  }
  const TensorMap pred_params = to_device(predictor.init_parameters(gen), o.device, false);
  TensorMap pred_buffers = to_device(predictor.init_buffers(), o.device, false);
  std::vector<int64_t> task;
  for (int64_t c = 0; c < o.k; ++c) task.push_back(c * 7 % o.classes);
  std::vector<float> bow(o.classes, 0.0f);
  for (int64_t c : task) bow[c] = 1.0f;
  const double seconds = median_seconds(o.repeats, [&] {
    const Tensor d = Tensor::from_vector(bow, {1, o.classes}).to(o.device);
    const auto alphas = predictor.mixers(pred_params, pred_buffers, d, false)[0];
    TensorMap p = mix_parameters(net, layout, bases, alphas);
    const TensorMap b = mix_buffers(net, layout, bases, alphas);
    select_classifier_rows(p, task);
    p.at("fc.bias").to_vector();  // waits for the device
  });
  return seconds * 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  taper::bench::pin_blas_as_taper_does(argv);
  try {
    const Options o = parse(argc, argv);
    require_device(o.device);
    const TrainResult t = bench_train(o);
    std::printf("train %s batch %lld on %s%s: %.1f images/s (median of %lld steps, final loss %.3f)\n", o.arch.c_str(),
                static_cast<long long>(o.batch), o.device.str().c_str(), allow_tf32() ? " (TF32)" : "",
                t.images_per_second, static_cast<long long>(o.steps), t.final_loss);
    print_efficiency(o, t);
    std::printf("eval  %s batch %lld on %s: %.1f images/s (forward only)\n", o.arch.c_str(),
                static_cast<long long>(o.batch), o.device.str().c_str(), t.eval_images_per_second);
    std::printf("upload of one batch (host -> %s -> host): %.2f ms\n", o.device.str().c_str(), t.upload_ms);
    const double ms = bench_personalize(o);
    std::printf("personalize %s, %lld bases, k = %lld on %s: %.2f ms (median)\n", o.arch.c_str(),
                static_cast<long long>(o.bases), static_cast<long long>(o.k), o.device.str().c_str(), ms);
    if (!o.json.empty()) {
      std::ofstream out(o.json);
      out << "{\"device\": \"" << o.device.str() << "\", \"arch\": \"" << o.arch << "\", \"batch\": " << o.batch
          << ", \"tf32\": " << (allow_tf32() ? "true" : "false") << ", \"train_images_per_second\": "
          << t.images_per_second << ", \"eval_images_per_second\": " << t.eval_images_per_second
          << ", \"width\": " << o.width << ", \"batch_round_trip_ms\": " << t.upload_ms << ", \"bases\": " << o.bases
          << ", \"k\": " << o.k << ", \"personalize_ms_median\": " << ms << "}\n";
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_device_train: %s\n", e.what());
    return 1;
  }
  return 0;
}
