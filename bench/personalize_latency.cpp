// Benchmark: on-the-fly personalization on the CPU against the memory-
// bandwidth floor. Mixing Q ResNet-18 bases (ImageNet size, 1000 classes)
// into one network reads Q copies of every parameter and writes one, so no
// implementation can beat (Q + 1) * parameters * 4 bytes over the machine's
// copy bandwidth; both are measured in the same run (the copy as memcpy over
// buffers far larger than the caches, counting read + write).
//
// Timed: equation (1) for every parameter (taper/basis_mixing: the mix op,
// output allocation included), and the whole condensation a personalized
// model needs beyond the predictor: mixed weights, mixed BatchNorm
// statistics and classifier selection (20 classes).
//
// Usage: build/bench_personalize_latency [--quick] [--help]
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "bench/pinned_blas.h"
#include "bench/timing.h"
#include "engine/autograd.h"
#include "nn/resnet.h"
#include "taper/basis_mixing.h"
#include "taper/classifier_selection.h"

using namespace taper;
using taper::bench::median_seconds;

namespace {

// Bytes per second moved (read + written) by memcpy over 2 x 512 MB.
double copy_bandwidth(int reps) {
  const size_t bytes = size_t(512) << 20;
  std::vector<char> a(bytes, 1), b(bytes, 2);
  const double s = median_seconds(reps, [&] { std::memcpy(b.data(), a.data(), bytes); });
  return 2.0 * bytes / s;
}

}  // namespace

int main(int argc, char** argv) {
  taper::bench::pin_blas_as_taper_does(argv);
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::printf("usage: %s [--quick]\n\nTimes mixing Q = 10 ResNet-18 bases (ImageNet size) into one network\n"
                  "against the memory-bandwidth floor measured in the same run. --quick: Q = 2, one rep.\n",
                  argv[0]);
      return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
    }
  }
  const int64_t q = quick ? 2 : 10;
  const int reps = quick ? 1 : 9;
  char host[256] = "";
  gethostname(host, sizeof host);
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::printf("# personalize_latency  %s  host %s  omp threads %d\n", date, host, omp_get_max_threads());

  const ResNet net(ResNetConfig{"resnet18", "imagenet", 1.0, 1000});
  const MixerLayout layout = make_mixer_layout(net, "block", "first-stage", "last-stage");
  Bases bases;
  for (int64_t b = 0; b < q; ++b) {
    Generator gen(static_cast<uint64_t>(b));
    bases.params.push_back(net.init_parameters(gen));
    bases.buffers.push_back(net.init_buffers());
  }
  std::vector<Tensor> alpha;
  for (int blk = 0; blk < layout.num_blocks; ++blk) alpha.push_back(Tensor::full({q}, 1.0f / q));
  std::vector<int64_t> task;
  for (int64_t c = 0; c < 20; ++c) task.push_back(c * 50);

  NoGradGuard no_grad;
  const double bandwidth = copy_bandwidth(reps);
  const double params = static_cast<double>(net.parameter_count());
  const double floor_s = (q + 1) * params * 4.0 / bandwidth;
  const double mix_s = median_seconds(reps, [&] { (void)mix_parameters(net, layout, bases, alpha); });
  const double full_s = median_seconds(reps, [&] {
    TensorMap p = mix_parameters(net, layout, bases, alpha);
    TensorMap b = mix_buffers(net, layout, bases, alpha);
    select_classifier_rows(p, task);
  });
  std::printf("resnet18 (imagenet, 1000 classes): %.2fM parameters, Q = %lld bases, %.0f MB read + written\n",
              params / 1e6, static_cast<long long>(q), (q + 1) * params * 4.0 / 1e6);
  std::printf("copy bandwidth (memcpy, read + write)       %8.1f GB/s\n", bandwidth / 1e9);
  std::printf("memory-bandwidth floor                      %8.2f ms\n", 1e3 * floor_s);
  std::printf("mix_parameters (equation 1)                 %8.2f ms   %.2fx the floor\n", 1e3 * mix_s, mix_s / floor_s);
  std::printf("+ mixed BN statistics + classifier rows     %8.2f ms   %.2fx the floor\n", 1e3 * full_s, full_s / floor_s);
  return 0;
}
