// Benchmark: the CPU convolution kernels on every distinct conv shape of a
// CIFAR-style ResNet-18 (3x3 stem, no max pool, 2 BasicBlocks per stage,
// 1x1 stride-2 downsample shortcuts), batch 128, widths 64 and 16.
//
// Each shape's forward, backward-data and backward-weight kernels are timed
// on their own (straight through the backend, so no autograd or output-
// tensor allocation is measured; the kernels' own scratch buffers are, as
// they are part of the kernel's cost) and compared with an OpenBLAS sgemm peak measured in the same
// run, since the convolution is im2col + sgemm and cannot beat that.
//
// Usage: build/bench_conv_resnet18 [--quick] [--width 64|16] [--rounds N] [--help]
//
// This VM's speed drifts by 10-15% over minutes (the sgemm peak too), so a
// recorded run uses --rounds 3: every shape is timed once per round, the
// rounds one after the other, and each pass reports its median round.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "bench/pinned_blas.h"
#include "bench/sgemm_peak.h"
#include "bench/timing.h"
#include "engine/backend.h"
#include "engine/rng.h"
#include "engine/tensor.h"

using namespace taper;
using taper::bench::kPeakReps;
using taper::bench::median;
using taper::bench::median_seconds;
using taper::bench::sgemm_peak_gflops;
using taper::bench::seconds_since;

namespace {

constexpr int64_t kBatch = 128;

// One distinct convolution of the network and how often it occurs there.
struct ConvSpec {
  std::string name;
  int64_t c_in, c_out, h_in, k, stride, pad;
  int mult;
  bool needs_bwd_data;  // false for the stem: its input is the image
};

// The distinct conv shapes of a CIFAR ResNet-18 of base width w. Stage s has
// 2 BasicBlocks of two 3x3 convs; stages 2-4 open with a stride-2 conv and a
// 1x1 stride-2 shortcut, so each of them has 3 same-shape 3x3 convs left.
std::vector<ConvSpec> resnet18_convs(int64_t w) {
  std::vector<ConvSpec> v;
  v.push_back({"stem", 3, w, 32, 3, 1, 1, 1, false});
  v.push_back({"s1 3x3", w, w, 32, 3, 1, 1, 4, true});
  int64_t c = w, h = 32;
  for (int s = 2; s <= 4; ++s) {
    std::string st = "s";  // (not "s" + to_string: trips GCC 12's bogus -Wrestrict)
    st += std::to_string(s);
    v.push_back({st + " 3x3/2", c, 2 * c, h, 3, 2, 1, 1, true});
    v.push_back({st + " 3x3", 2 * c, 2 * c, h / 2, 3, 1, 1, 3, true});
    v.push_back({st + " 1x1/2 ds", c, 2 * c, h, 1, 2, 0, 1, true});
    c *= 2;
    h /= 2;
  }
  return v;
}

Window2d window(const ConvSpec& s, int64_t n) {
  Window2d g;
  g.n = n;
  g.c_in = s.c_in;
  g.h_in = g.w_in = s.h_in;
  g.c_out = s.c_out;
  g.kh = g.kw = s.k;
  g.stride_h = g.stride_w = s.stride;
  g.pad_h = g.pad_w = s.pad;
  g.h_out = g.w_out = (s.h_in + 2 * s.pad - s.k) / s.stride + 1;
  return g;
}

// Each of the three passes is one GEMM of this size (2 flops per MAC).
double conv_flops(const Window2d& g) {
  return 2.0 * g.n * g.c_out * g.h_out * g.w_out * g.c_in * g.kh * g.kw;
}

// Fewer reps for heavy shapes so the full run stays at a few minutes.
int reps_for(double flops, bool quick) {
  if (quick) return 1;
  if (flops >= 4e9) return 5;
  if (flops >= 1e9) return 9;
  return 15;
}

// Median seconds of the three passes; bwd_data is 0 when not needed.
struct PassTimes {
  double fwd = 0, bwd_data = 0, bwd_weight = 0;
};

PassTimes time_shape(const ConvSpec& s, const Window2d& g, Generator& gen, int reps) {
  Backend& be = backend_for(Device::cpu());
  Tensor x = Tensor::empty({g.n, g.c_in, g.h_in, g.w_in});
  Tensor w = Tensor::empty({g.c_out, g.c_in, g.kh, g.kw});
  Tensor y = Tensor::empty({g.n, g.c_out, g.h_out, g.w_out});
  Tensor gy = Tensor::empty(y.shape());
  Tensor gx = Tensor::empty(x.shape()), gw = Tensor::empty(w.shape());
  gen.normal(x);
  gen.normal(w, 0.0f, 0.05f);
  gen.normal(gy);
  const Tensor no_bias;  // ResNet convs have none (BatchNorm follows)
  Tensor no_grad_bias;

  PassTimes t;
  t.fwd = median_seconds(reps, [&] { be.conv2d_forward(x, w, no_bias, y, g); });
  if (s.needs_bwd_data) t.bwd_data = median_seconds(reps, [&] { be.conv2d_backward_data(gy, w, gx, g); });
  t.bwd_weight = median_seconds(reps, [&] { be.conv2d_backward_weight(x, gy, gw, no_grad_bias, g); });
  return t;
}

std::string shell_line(const char* cmd) {
  std::string out;
  if (FILE* p = popen(cmd, "r")) {
    char buf[256];
    if (fgets(buf, sizeof buf, p)) out = buf;
    if (pclose(p) != 0) out.clear();  // e.g. not a git checkout
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

// Enough context to compare result files from different machines/commits.
void print_header(bool quick, int rounds) {
  char date[32], host[256] = "unknown";
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &utc);
  gethostname(host, sizeof host - 1);
  std::string commit = shell_line("git rev-parse --short HEAD 2>/dev/null");
  if (commit.empty()) commit = "unknown";
  std::printf("# conv_resnet18%s --rounds %d | %s | commit %s | host %s | cpu %s | omp threads %d | openblas threads %d\n",
              quick ? " --quick" : "", rounds, date, commit.c_str(), host, cpu_model().c_str(), omp_get_max_threads(),
              openblas_get_num_threads());
  std::printf("# openblas: %s\n", openblas_get_config());
}

void print_pass(const char* pass, double flops, double sec, double peak) {
  if (sec <= 0) {
    std::printf("%-9s %9s %10s %9s %7s\n", pass, "-", "(skipped)", "-", "-");
    return;
  }
  const double gfs = flops / sec * 1e-9;
  std::printf("%-9s %9.3f %10.2f %9.1f %6.1f%%\n", pass, flops * 1e-9, sec * 1e3, gfs, 100 * gfs / peak);
}

// Each shape's pass times, the median over `rounds` rounds through all shapes.
std::vector<PassTimes> time_shapes(const std::vector<ConvSpec>& specs, int rounds, bool quick, Generator& gen) {
  std::vector<std::vector<PassTimes>> runs(specs.size());
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < specs.size(); ++i) {
      const Window2d g = window(specs[i], kBatch);
      runs[i].push_back(time_shape(specs[i], g, gen, reps_for(conv_flops(g), quick)));
    }
  }
  std::vector<PassTimes> out;
  for (const auto& v : runs) {
    auto pass = [&](double PassTimes::*m) {
      std::vector<double> t;
      for (const PassTimes& p : v) t.push_back(p.*m);
      return median(std::move(t));
    };
    out.push_back({pass(&PassTimes::fwd), pass(&PassTimes::bwd_data), pass(&PassTimes::bwd_weight)});
  }
  return out;
}

// Per-shape table for one width, then the training-step total: every conv
// once forward, once backward-weight, and backward-data except the stem.
void bench_width(int64_t width, double peak, int rounds, bool quick, Generator& gen) {
  std::printf("\n== width %ld, batch %ld  (times are medians per call, median of %d round%s; GFLOP per call)\n",
              (long)width, (long)kBatch, rounds, rounds == 1 ? "" : "s");
  std::printf("%-13s %-11s %-3s %-3s %-11s %-4s | %-9s %9s %10s %9s %7s\n", "layer", "Cin->Cout", "k", "s",
              "HxW in->out", "mult", "pass", "GFLOP", "ms", "GFLOP/s", "%peak");
  double step_sec = 0, step_flops = 0, pass_sec[3] = {0, 0, 0};
  double lo = 1e30, hi = 0;  // % of peak range over all passes
  int convs = 0;
  const std::vector<ConvSpec> specs = resnet18_convs(width);
  const std::vector<PassTimes> times = time_shapes(specs, rounds, quick, gen);
  for (size_t i = 0; i < specs.size(); ++i) {
    const ConvSpec& s = specs[i];
    const Window2d g = window(s, kBatch);
    const double f = conv_flops(g);
    const PassTimes& t = times[i];
    char chan[32], hw[32];
    std::snprintf(chan, sizeof chan, "%ld->%ld", (long)s.c_in, (long)s.c_out);
    std::snprintf(hw, sizeof hw, "%ld->%ld", (long)g.h_in, (long)g.h_out);
    std::printf("%-13s %-11s %-3ld %-3ld %-11s %-4d | ", s.name.c_str(), chan, (long)s.k, (long)s.stride, hw, s.mult);
    print_pass("fwd", f, t.fwd, peak);
    const std::string pad = std::string(51, ' ') + "| ";  // under the shape columns
    std::printf("%s", pad.c_str());
    print_pass("bwd-data", f, t.bwd_data, peak);
    std::printf("%s", pad.c_str());
    print_pass("bwd-wt", f, t.bwd_weight, peak);

    convs += s.mult;
    const double secs[3] = {t.fwd, t.bwd_data, t.bwd_weight};
    for (int p = 0; p < 3; ++p) {
      if (secs[p] <= 0) continue;
      pass_sec[p] += s.mult * secs[p];
      step_sec += s.mult * secs[p];
      step_flops += s.mult * f;
      lo = std::min(lo, f / secs[p] * 1e-9 / peak);
      hi = std::max(hi, f / secs[p] * 1e-9 / peak);
    }
  }
  std::printf("-- width %ld total per training step (%d convs, weighted by mult): fwd %.1f ms, bwd-data %.1f ms, "
              "bwd-wt %.1f ms\n",
              (long)width, convs, pass_sec[0] * 1e3, pass_sec[1] * 1e3, pass_sec[2] * 1e3);
  std::printf("-- width %ld step: %.3f s for %.1f GFLOP = %.1f GFLOP/s (%.1f%% of peak); per-pass range %.1f%%..%.1f%%\n",
              (long)width, step_sec, step_flops * 1e-9, step_flops / step_sec * 1e-9,
              100 * step_flops / step_sec * 1e-9 / peak, 100 * lo, 100 * hi);
}

void usage() {
  std::printf(
      "usage: bench_conv_resnet18 [--quick] [--width 64|16] [--rounds N] [--help]\n"
      "  Times the CPU conv2d forward / backward-data / backward-weight kernels on the\n"
      "  distinct conv shapes of a CIFAR ResNet-18 (batch 128, widths 64 and 16) and\n"
      "  compares them with an OpenBLAS sgemm peak (2048^3) measured in the same run.\n"
      "  --quick  width 16 only, 1 timed rep per pass (smoke test)\n"
      "  --width  this width only (the stem's channels: 64, 16, ...)\n"
      "  --rounds time every shape N times, the rounds one after the other, and report each\n"
      "           pass's median round (default 1; the recorded runs use 3: this machine's speed\n"
      "           drifts over minutes)\n");
}

}  // namespace

int main(int argc, char** argv) {
  taper::bench::pin_blas_as_taper_does(argv);
  bool quick = false;
  int64_t only_width = 0;
  int rounds = 1;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
    } else if (!std::strcmp(argv[i], "--width") && i + 1 < argc) {
      only_width = std::atoll(argv[++i]);
    } else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
      if (rounds < 1) {
        std::fprintf(stderr, "--rounds: expected a positive number of rounds, got %s\n", argv[i]);
        return 2;
      }
    } else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      usage();
      return 2;
    }
  }
  print_header(quick, rounds);
  const double peak = sgemm_peak_gflops();
  std::printf("# sgemm peak (2048x2048x2048, best of %d): %.1f GFLOP/s  (%%peak below is relative to this)\n",
              kPeakReps, peak);
  std::fflush(stdout);
  Generator gen(1234);
  std::vector<int64_t> widths = quick ? std::vector<int64_t>{16} : std::vector<int64_t>{64, 16};
  if (only_width > 0) widths = {only_width};
  for (int64_t w : widths) {
    bench_width(w, peak, rounds, quick, gen);
    std::fflush(stdout);
  }
  // A second peak shows whether the machine was busy (e.g. a compile) during
  // the run: if it is far from the first, rerun on an idle machine.
  std::printf("\n# sgemm peak re-measured at the end: %.1f GFLOP/s\n", sgemm_peak_gflops());
  return 0;
}
