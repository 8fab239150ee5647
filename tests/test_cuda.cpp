// The CUDA backend against the CPU backend: every op's outputs and input
// gradients, on the same inputs, within relative error 1e-4 in FP32 (TF32
// off), plus the device plumbing (copies, the caching allocator, errors).
//
// The tests that need a GPU skip with a message when there is none (the
// developers' and CI's machines); scripts/gpu-check.sh runs them on a lent
// GPU and fails when any of them skipped. The allocator's policy and the
// "no CUDA device" error are tested everywhere.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/caching_allocator.h"
#include "engine/ops.h"
#include "engine/sgd.h"
#include "nn/resnet.h"
#include "taper/pipeline.h"
#include "tests/gradcheck.h"
#include "tests/reference_fixture.h"
#include "tests/temp_dir.h"
#ifdef TAPER_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

using namespace taper;
using taper::testing::distinct;
using taper::testing::randn;
using taper::testing::relative_error;

namespace {

const Device kGpu = Device::cuda(0);
constexpr double kTolerance = 1e-4;

// "" when a CUDA device is usable, else the backend's reason.
std::string gpu_unavailable() {
  try {
    require_device(kGpu);
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

#define REQUIRE_GPU_OR_SKIP()                                         \
  do {                                                                \
    const std::string why_ = gpu_unavailable();                       \
    if (!why_.empty()) {                                              \
      MESSAGE("skipped (needs a GPU): " << why_);                     \
      return;                                                         \
    }                                                                 \
  } while (0)

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Copies of the inputs on device (leaves keep requires_grad).
std::vector<Tensor> on_device(const std::vector<Tensor>& inputs, Device device) {
  std::vector<Tensor> out;
  for (const Tensor& t : inputs) {
    if (!t.defined()) {
      out.emplace_back();
      continue;
    }
    Tensor c = t.to(device).detach();  // on the CPU: a view of the input, with its own grad
    if (t.requires_grad()) c.set_requires_grad(true);
    out.push_back(c);
  }
  return out;
}

// Runs f on CPU copies and GPU copies of the inputs, backpropagates the same
// random cotangent and compares the output and every input's gradient.
void compare_op(const std::string& what, const OpFn& f, const std::vector<Tensor>& inputs,
                double tolerance = kTolerance) {
  CAPTURE(what);
  std::vector<Tensor> cpu = on_device(inputs, Device::cpu()), gpu = on_device(inputs, kGpu);
  Tensor out_cpu = f(cpu), out_gpu = f(gpu);
  REQUIRE(out_gpu.device() == kGpu);
  REQUIRE(out_gpu.shape() == out_cpu.shape());
  CHECK(relative_error(out_gpu.to(Device::cpu()), out_cpu) <= tolerance);
  if (!out_cpu.requires_grad()) return;
  const Tensor seed = randn(out_cpu.shape(), 777);
  out_cpu.backward(seed);
  out_gpu.backward(seed.to(kGpu));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    CAPTURE(i);
    REQUIRE(cpu[i].grad().defined());
    REQUIRE(gpu[i].grad().defined());
    CHECK(gpu[i].grad().device() == kGpu);
    CHECK(relative_error(gpu[i].grad().to(Device::cpu()), cpu[i].grad()) <= tolerance);
  }
}

Tensor leaf(const Shape& shape, uint64_t seed, float stddev = 1.0f) {
  return randn(shape, seed, stddev).set_requires_grad(true);
}

}  // namespace

// ---- everywhere: the allocator's policy, device names, the missing-GPU error ----

TEST_CASE("cuda: the caching allocator reuses freed blocks and counts raw allocations") {
  int64_t raw = 0;
  CachingAllocator a([&](size_t b) { ++raw; return std::malloc(b); }, [](void* p) { std::free(p); }, "test");
  void* p = a.allocate(1000);
  CHECK(a.stats().in_use_bytes == 1024);
  a.deallocate(p);
  CHECK(a.stats().cached_bytes == 1024);
  void* q = a.allocate(900);  // same 1024-byte block
  CHECK(q == p);
  CHECK(raw == 1);
  CHECK(a.stats().reuses == 1);
  void* big = a.allocate(1 << 20);  // does not fit the cached nothing: new block
  CHECK(raw == 2);
  a.deallocate(big);
  void* small = a.allocate(1000);  // a 1 MiB block is not tied up by 1 KB
  CHECK(small != big);
  CHECK(raw == 3);
  a.deallocate(q);
  a.deallocate(small);
  CHECK(a.stats().in_use_bytes == 0);
  CHECK(a.stats().peak_in_use_bytes == 1024 + (1 << 20));
  a.release_cached();
  CHECK(a.stats().cached_bytes == 0);
  CHECK(a.stats().raw_frees == 3);
  CHECK(CachingAllocator::round_size(0) == 512);
  CHECK(CachingAllocator::round_size(513) == 1024);
}

TEST_CASE("cuda: the caching allocator returns its cache when the device is full, then names the shortfall") {
  size_t capacity = 4096, used = 0;
  CachingAllocator a(
      [&](size_t b) -> void* {
        if (used + b > capacity) return nullptr;
        used += b;
        return std::malloc(b);
      },
      [&](void* p) { std::free(p), used -= 2048; }, "cuda:9");
  void* x = a.allocate(2048);
  a.deallocate(x);  // cached: the device still counts it as used
  void* y = a.allocate(3000);  // needs the cache back: 2048 + 3072 > 4096
  CHECK(y != nullptr);
  CHECK(a.stats().raw_frees == 1);
  try {
    a.allocate(4096);
    FAIL("no out-of-memory error");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("cuda:9: out of memory allocating 4096 bytes") != std::string::npos);
  }
  CHECK_THROWS_AS(a.deallocate(&capacity), std::logic_error);
  a.deallocate(y);
  a.release_cached();  // the cache lives as long as its allocator owner says (the backend: the process)
  CHECK(a.stats().cached_bytes == 0);
}

TEST_CASE("cuda: device names parse; bad ones are rejected naming the text") {
  CHECK(parse_device("cpu") == Device::cpu());
  CHECK(parse_device("cuda") == Device::cuda(0));
  CHECK(parse_device("cuda:1") == Device::cuda(1));
  CHECK(Device::cuda(1).str() == "cuda:1");
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "CUDA", "cuda:-1"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(parse_device(bad), doctest::Contains(bad), std::invalid_argument);
  }
}

TEST_CASE("cuda: without a GPU, device tensors fail at once with 'no CUDA device'") {
  const std::string why = gpu_unavailable();
  if (why.empty()) {
    MESSAGE("a GPU is present: checked that cuda:0 works instead");
    CHECK(Tensor::zeros({3}, DType::F32, kGpu).to(Device::cpu()).to_vector() == std::vector<float>{0, 0, 0});
    return;
  }
  CHECK(why.find("no CUDA device") == 0);
  CHECK_THROWS_WITH(Tensor::empty({2}, DType::F32, kGpu), doctest::Contains("no CUDA device"));
  CHECK_THROWS_WITH(Tensor::scalar(1.0f).to(kGpu), doctest::Contains("no CUDA device"));
  MESSAGE("CUDA backend built: " << std::string(cuda_built() ? "yes" : "no") << "; " << why);
}

TEST_CASE("cuda: `taper train --device cuda` without a GPU fails at once, before touching the run directory") {
  if (gpu_unavailable().empty()) {
    MESSAGE("a GPU is present: nothing to check");
    return;
  }
  std::error_code ec;
  const std::filesystem::path bin = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "taper";
  if (ec || !std::filesystem::exists(bin)) {
    MESSAGE("skipped: no taper binary beside the tests (make builds it)");
    return;
  }
  taper::testing::TempDir dir;
  const std::string cmd = bin.string() + " train " + TAPER_SOURCE_DIR + "/experiments/tiny/smoke.toml --out " +
                          (dir / "run") + " --device cuda 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buf[256];
  while (fgets(buf, sizeof buf, pipe)) output += buf;
  const int status = pclose(pipe);
  CAPTURE(output);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);
  CHECK(output.find("no CUDA device") != std::string::npos);
  CHECK(!std::filesystem::exists(dir / "run"));
}

// ---- on a GPU: memory and copies ----

TEST_CASE("cuda: host <-> device copies round-trip every dtype; host access to device memory is refused") {
  REQUIRE_GPU_OR_SKIP();
  const Tensor f = randn({3, 5}, 1);
  CHECK(f.to(kGpu).to(Device::cpu()).to_vector() == f.to_vector());
  const Tensor l = Tensor::from_labels({4, -2, 1LL << 40});
  CHECK(l.to(kGpu).to_labels() == l.to_labels());
  Tensor u = Tensor::empty({4}, DType::U8);
  for (int i = 0; i < 4; ++i) u.u8()[i] = static_cast<uint8_t>(250 + i);
  const Tensor ub = u.to(kGpu).to(Device::cpu());
  for (int i = 0; i < 4; ++i) CHECK(ub.u8()[i] == 250 + i);
  Tensor g = f.to(kGpu);
  CHECK(g.to(kGpu).same(g));
  CHECK_THROWS_WITH(g.f32(), doctest::Contains("host access to a tensor on cuda:0"));
  CHECK_THROWS_WITH(g.item(), doctest::Contains("15 elements"));
}

TEST_CASE("cuda: fill, zeros, clone, copy_from and in-place add on the device") {
  REQUIRE_GPU_OR_SKIP();
  Tensor t = Tensor::full({1000}, 2.5f, kGpu);
  for (float v : t.to_vector()) REQUIRE(v == 2.5f);
  Tensor z = Tensor::zeros({7}, DType::I64, kGpu);
  CHECK(z.to_labels() == std::vector<int64_t>(7, 0));
  Tensor c = t.clone();
  add_inplace(c, t);
  for (float v : c.to_vector()) REQUIRE(v == 5.0f);
  Tensor host = Tensor::empty({1000});
  host.copy_from(c);
  CHECK(host.f32()[999] == 5.0f);
  t.copy_from(Tensor::full({1000}, -1.0f));
  CHECK(t.to_vector()[0] == -1.0f);
  CHECK(Tensor::scalar(3.0f).to(kGpu).item() == 3.0f);
}

// ---- on a GPU: every op against the CPU backend ----

TEST_CASE("cuda: element-wise ops match the CPU") {
  REQUIRE_GPU_OR_SKIP();
  compare_op("relu", [](auto& in) { return relu(in[0]); }, {distinct({4, 3, 17, 9}, 1).set_requires_grad(true)});
  compare_op("add", [](auto& in) { return add(in[0], in[1]); }, {leaf({5, 1000}, 2), leaf({5, 1000}, 3)});
  compare_op("add_relu", [](auto& in) { return add_relu(in[0], in[1]); }, {leaf({5, 1000}, 2), leaf({5, 1000}, 3)});
  compare_op("scale", [](auto& in) { return scale(in[0], -0.37f); }, {leaf({70001}, 4)});
  compare_op("reshape", [](auto& in) { return relu(flatten(reshape(in[0], {2, -1, 3}))); },
             {distinct({4, 6, 3}, 5).set_requires_grad(true)});
}

TEST_CASE("cuda: matmul and linear (cuBLAS, TF32 off) match the CPU") {
  REQUIRE_GPU_OR_SKIP();
  compare_op("matmul", [](auto& in) { return matmul(in[0], in[1]); }, {leaf({37, 64}, 6), leaf({64, 29}, 7)});
  compare_op("matmul large", [](auto& in) { return matmul(in[0], in[1]); }, {leaf({256, 512}, 8), leaf({512, 384}, 9)});
  compare_op("linear", [](auto& in) { return linear(in[0], in[1], in[2]); },
             {leaf({128, 512}, 10), leaf({100, 512}, 11, 0.05f), leaf({100}, 12)});
  compare_op("linear without bias", [](auto& in) { return linear(in[0], in[1], Tensor()); },
             {leaf({3, 7}, 13), leaf({5, 7}, 14)});
  compare_op("linear, one row", [](auto& in) { return linear(in[0], in[1], in[2]); },
             {leaf({1, 10}, 15), leaf({4, 10}, 16), leaf({4}, 17)});
}

TEST_CASE("cuda: allow_tf32 changes GEMM precision only within TF32's error") {
  REQUIRE_GPU_OR_SKIP();
  const Tensor a = randn({256, 1024}, 18), b = randn({1024, 256}, 19);
  const Tensor exact = matmul(a, b);
  set_allow_tf32(true);
  const Tensor fast = matmul(a.to(kGpu), b.to(kGpu)).to(Device::cpu());
  set_allow_tf32(false);
  CHECK(relative_error(fast, exact) <= 1e-2);
  CHECK(relative_error(matmul(a.to(kGpu), b.to(kGpu)).to(Device::cpu()), exact) <= kTolerance);
}

TEST_CASE("cuda: conv2d (cuDNN) forward, backward-data and backward-filter match the CPU") {
  REQUIRE_GPU_OR_SKIP();
  struct Case {
    int64_t n, c_in, h, w, c_out, k;
    int stride, pad;
    bool bias;
  };
  const Case cases[] = {
      {8, 3, 32, 32, 16, 3, 1, 1, false},   // CIFAR stem
      {8, 16, 32, 32, 32, 3, 2, 1, false},  // stage transition
      {8, 16, 32, 32, 32, 1, 2, 0, false},  // downsample shortcut
      {4, 64, 8, 8, 64, 3, 1, 1, true},     // late stage, with bias
      {2, 3, 64, 64, 64, 7, 2, 3, false},   // ImageNet stem
      {3, 5, 7, 9, 4, 2, 3, 0, true},       // odd sizes
      {1, 4, 1, 1, 6, 3, 1, 1, false},      // 1x1 image under a 3x3 kernel
  };
  uint64_t seed = 100;
  for (const Case& c : cases) {
    const Conv2dOptions o{c.stride, c.pad};
    const Tensor bias = c.bias ? leaf({c.c_out}, seed++) : Tensor();
    compare_op("conv2d k" + std::to_string(c.k) + " s" + std::to_string(c.stride) + " c" + std::to_string(c.c_in),
               [o](auto& in) { return conv2d(in[0], in[1], in[2], o); },
               {leaf({c.n, c.c_in, c.h, c.w}, seed++), leaf({c.c_out, c.c_in, c.k, c.k}, seed++, 0.2f), bias});
  }
  // A second call of the same shape takes the cached algorithm and agrees.
  const Tensor x = randn({8, 3, 32, 32}, 1), w = randn({16, 3, 3, 3}, 2);
  const Tensor first = conv2d(x.to(kGpu), w.to(kGpu), Tensor(), {1, 1}).to(Device::cpu());
  const Tensor second = conv2d(x.to(kGpu), w.to(kGpu), Tensor(), {1, 1}).to(Device::cpu());
  CHECK(relative_error(second, first) <= kTolerance);
}

TEST_CASE("cuda: batch norm (cuDNN), with and without ReLU, in training and evaluation matches the CPU, running "
          "statistics too") {
  REQUIRE_GPU_OR_SKIP();
  for (const Shape shape : {Shape{16, 8, 6, 5}, Shape{32, 24}, Shape{2, 3, 1, 1}}) {
    CAPTURE(shape.str());
    const int64_t c = shape[1];
    for (auto [training, then_relu] : {std::pair{true, false}, {false, false}, {true, true}, {false, true}}) {
      CAPTURE(training);
      CAPTURE(then_relu);
      Tensor rm_cpu = randn({c}, 20, 0.1f), rv_cpu = add(Tensor::full({c}, 1.0f), scale(relu(randn({c}, 21)), 0.5f));
      Tensor rm_gpu = rm_cpu.to(kGpu), rv_gpu = rv_cpu.to(kGpu);
      auto bn = [&](const std::vector<Tensor>& in) {
        const bool gpu = in[0].device() == kGpu;
        return (then_relu ? batch_norm_relu : batch_norm)(in[0], in[1], in[2], gpu ? rm_gpu : rm_cpu,
                                                          gpu ? rv_gpu : rv_cpu, training, 0.1f, 1e-5f);
      };
      compare_op("batch_norm", bn, {leaf(shape, 22, 2.0f), leaf({c}, 23), leaf({c}, 24)});
      CHECK(relative_error(rm_gpu.to(Device::cpu()), rm_cpu) <= kTolerance);
      CHECK(relative_error(rv_gpu.to(Device::cpu()), rv_cpu) <= kTolerance);
    }
  }
}

TEST_CASE("cuda: pooling matches the CPU") {
  REQUIRE_GPU_OR_SKIP();
  compare_op("max_pool2d 3/2/1", [](auto& in) { return max_pool2d(in[0], 3, 2, 1); },
             {distinct({4, 8, 16, 16}, 30).set_requires_grad(true)});
  compare_op("max_pool2d 2/2/0", [](auto& in) { return max_pool2d(in[0], 2, 2, 0); },
             {distinct({2, 3, 7, 9}, 31).set_requires_grad(true)});
  compare_op("global_avg_pool", [](auto& in) { return global_avg_pool(in[0]); }, {leaf({16, 64, 4, 4}, 32)});
  compare_op("global_avg_pool 7x7", [](auto& in) { return global_avg_pool(in[0]); }, {leaf({2, 5, 7, 7}, 33)});
}

TEST_CASE("cuda: softmax, log-softmax and cross-entropy match the CPU") {
  REQUIRE_GPU_OR_SKIP();
  compare_op("softmax", [](auto& in) { return softmax(in[0]); }, {leaf({64, 100}, 40, 3.0f)});
  compare_op("log_softmax", [](auto& in) { return log_softmax(in[0]); }, {leaf({5, 1000}, 41, 3.0f)});
  compare_op("softmax, one column", [](auto& in) { return softmax(in[0]); }, {leaf({3, 1}, 42)});
  std::vector<int64_t> labels(128);
  for (int64_t i = 0; i < 128; ++i) labels[i] = (i * 37) % 100;
  const Tensor l = Tensor::from_labels(labels);
  compare_op("cross_entropy", [&](auto& in) { return cross_entropy(in[0], l.to(in[0].device())); },
             {leaf({128, 100}, 43, 4.0f)});
  compare_op("cross_entropy, large logits", [&](auto& in) { return cross_entropy(in[0], l.to(in[0].device())); },
             {leaf({128, 100}, 44, 300.0f)});
}

TEST_CASE("cuda: bad labels and indices are rejected before any kernel, as on the CPU") {
  REQUIRE_GPU_OR_SKIP();
  const Tensor logits = randn({2, 3}, 45).to(kGpu);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, Tensor::from_labels({0, 3}).to(kGpu)),
                       doctest::Contains("label 3 at row 1 outside [0, 3)"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(gather_columns(logits, Tensor::from_labels({-1}).to(kGpu)),
                       doctest::Contains("index -1 at position 0"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, Tensor::from_labels({0, 1})), doctest::Contains("tensors on cuda:0 and cpu"),
                       std::invalid_argument);
}

TEST_CASE("cuda: gather_columns matches the CPU, repeated indices included") {
  REQUIRE_GPU_OR_SKIP();
  const Tensor idx = Tensor::from_labels({3, 0, 3, 7, 9, 3});
  compare_op("gather_columns", [&](auto& in) { return gather_columns(in[0], idx.to(in[0].device())); },
             {leaf({33, 10}, 50)});
}

TEST_CASE("cuda: basis mixing matches the CPU, in the mixers and every basis") {
  REQUIRE_GPU_OR_SKIP();
  for (int q_count : {1, 3, 40}) {  // 40: more bases than one kernel launch takes
    CAPTURE(q_count);
    std::vector<Tensor> inputs{leaf({q_count}, 60)};
    for (int q = 0; q < q_count; ++q) inputs.push_back(leaf({64, 3, 3, 3}, 61 + q));
    compare_op("mix", [](auto& in) { return mix(in[0], std::vector<Tensor>(in.begin() + 1, in.end())); }, inputs);
  }
  std::vector<Tensor> half{leaf({2}, 90), randn({100003}, 91), leaf({100003}, 92)};  // basis 0 needs no gradient
  compare_op("mix, large", [](auto& in) { return mix(in[0], {in[1], in[2]}); }, half);
}

TEST_CASE("cuda: stage 3's grouped mixing backward matches the CPU") {
  REQUIRE_GPU_OR_SKIP();
  for (int groups : {2, 40}) {  // 40: more groups than one kernel launch takes
    CAPTURE(groups);
    const int q_count = 3;
    std::vector<Tensor> alphas, grads, bases, grad_bases;
    for (int g = 0; g < groups; ++g) {
      alphas.push_back(randn({q_count}, 120 + g));
      grads.push_back(randn({100003}, 200 + g));
    }
    for (int q = 0; q < q_count; ++q) {
      bases.push_back(randn({100003}, 300 + q));
      grad_bases.push_back(randn({100003}, 310 + q));
    }
    std::vector<Tensor> gpu_grad_bases = on_device(grad_bases, kGpu);
    const std::vector<Tensor> cpu_out = mix_backward_groups(alphas, bases, grads, grad_bases);
    const std::vector<Tensor> gpu_out = mix_backward_groups(on_device(alphas, kGpu), on_device(bases, kGpu),
                                                            on_device(grads, kGpu), gpu_grad_bases);
    for (int g = 0; g < groups; ++g) CHECK(relative_error(gpu_out[g].to(Device::cpu()), cpu_out[g]) <= kTolerance);
    for (int q = 0; q < q_count; ++q)
      CHECK(relative_error(gpu_grad_bases[q].to(Device::cpu()), grad_bases[q]) <= kTolerance);
  }
}

TEST_CASE("cuda: SGD steps match the CPU (momentum, Nesterov, weight decay)") {
  REQUIRE_GPU_OR_SKIP();
  for (const SgdHyper h : {SgdHyper{0.1f, 0.0f, 0.0f, 0.0f, false}, SgdHyper{0.1f, 0.9f, 0.0f, 1e-4f, false},
                           SgdHyper{0.05f, 0.9f, 0.0f, 5e-4f, true}, SgdHyper{0.1f, 0.9f, 0.1f, 0.0f, false}}) {
    Tensor p_cpu = leaf({1000}, 70), p_gpu = p_cpu.to(kGpu).set_requires_grad(true);
    Sgd cpu({p_cpu}, h), gpu({p_gpu}, h);
    for (int step = 0; step < 3; ++step) {
      const Tensor g = randn({1000}, 71 + step);
      p_cpu.set_grad(g);
      p_gpu.set_grad(g.to(kGpu));
      cpu.step();
      gpu.step();
    }
    CHECK(relative_error(p_gpu.to(Device::cpu()), p_cpu) <= kTolerance);
  }
}

TEST_CASE("cuda: gelu matches the CPU") {
  REQUIRE_GPU_OR_SKIP();
  compare_op("gelu", [](auto& in) { return gelu(in[0]); }, {leaf({7, 1000}, 200, 3.0f)});
}

TEST_CASE("cuda: batched matmul (cuBLAS strided-batched, TF32 off) matches the CPU in every transpose") {
  REQUIRE_GPU_OR_SKIP();
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      const Shape a = ta ? Shape{12, 64, 33} : Shape{12, 33, 64}, b = tb ? Shape{12, 17, 64} : Shape{12, 64, 17};
      compare_op("batched_matmul", [=](auto& in) { return batched_matmul(in[0], in[1], ta, tb); },
                 {leaf(a, 201), leaf(b, 202)});
    }
  }
  // Attention's shapes: [batch * heads, tokens, head width] against itself.
  compare_op("batched_matmul q k^T", [](auto& in) { return batched_matmul(in[0], in[1], false, true); },
             {leaf({48, 40, 64}, 203), leaf({48, 40, 64}, 204)});
  compare_op("batched_matmul, batch 1", [](auto& in) { return batched_matmul(in[0], in[1]); },
             {leaf({1, 5, 3}, 205), leaf({1, 3, 2}, 206)});
}

TEST_CASE("cuda: layer norm and L2 normalisation match the CPU") {
  REQUIRE_GPU_OR_SKIP();
  compare_op("layer_norm", [](auto& in) { return layer_norm(in[0], in[1], in[2]); },
             {leaf({64, 768}, 210, 2.0f), leaf({768}, 211), leaf({768}, 212)});
  compare_op("layer_norm, BERT eps, odd width", [](auto& in) { return layer_norm(in[0], in[1], in[2], 1e-12f); },
             {leaf({9, 37}, 213), leaf({37}, 214), leaf({37}, 215)});
  // Only the input takes a gradient; gamma and beta are constants.
  compare_op("layer_norm, input gradient only", [](auto& in) { return layer_norm(in[0], in[1], in[2]); },
             {leaf({16, 300}, 216), randn({300}, 217), randn({300}, 218)});
  compare_op("l2_normalize", [](auto& in) { return l2_normalize(in[0]); }, {leaf({100, 512}, 219)});
  // Rows below eps are divided by eps (a constant): both branches in one tensor.
  const Tensor rows = Tensor::from_vector({0.1f, -0.2f, 0.05f, 30.0f, 40.0f, -12.0f}, {2, 3}).set_requires_grad(true);
  compare_op("l2_normalize, clamped rows", [](auto& in) { return l2_normalize(in[0], 10.0f); }, {rows});
}

TEST_CASE("cuda: masked softmax matches the CPU, a row with nothing kept included") {
  REQUIRE_GPU_OR_SKIP();
  // Batch b keeps its first 40 - 11 b columns of 40; batch 4 keeps none.
  std::vector<float> keep(5 * 40);
  for (int b = 0; b < 5; ++b) {
    for (int c = 0; c < 40; ++c) keep[b * 40 + c] = c < 40 - 11 * b ? 1.0f : 0.0f;
  }
  const Tensor mask = Tensor::from_vector(keep, {5, 40});
  compare_op("masked_softmax", [&](auto& in) { return masked_softmax(in[0], mask.to(in[0].device())); },
             {leaf({5, 24, 40}, 220, 3.0f)});
  const Tensor wide = Tensor::full({2, 1000}, 1.0f);
  compare_op("masked_softmax, wide rows", [&](auto& in) { return masked_softmax(in[0], wide.to(in[0].device())); },
             {leaf({2, 3, 1000}, 221, 3.0f)});
}

TEST_CASE("cuda: embedding matches the CPU, repeated ids adding up in its order") {
  REQUIRE_GPU_OR_SKIP();
  std::vector<int64_t> ids(300);
  for (int64_t i = 0; i < 300; ++i) ids[i] = (i * 7) % 50;  // every row six times
  const Tensor idx = Tensor::from_labels(ids);
  compare_op("embedding", [&](auto& in) { return embedding(in[0], idx.to(in[0].device())); }, {leaf({50, 96}, 230)});
  // The backward sums in the CPU's order without atomics: the same bits.
  const Tensor table = randn({50, 96}, 231), seed = randn({300, 96}, 232);
  Tensor t_cpu = table.detach().set_requires_grad(true), t_gpu = table.to(kGpu).detach().set_requires_grad(true);
  embedding(t_cpu, idx).backward(seed);
  embedding(t_gpu, idx.to(kGpu)).backward(seed.to(kGpu));
  CHECK(t_gpu.grad().to(Device::cpu()).to_vector() == t_cpu.grad().to_vector());
}

TEST_CASE("cuda: permute matches the CPU, last axis kept or moved") {
  REQUIRE_GPU_OR_SKIP();
  compare_op("permute head split", [](auto& in) { return permute(in[0], {0, 2, 1, 3}); }, {leaf({4, 40, 12, 64}, 240)});
  compare_op("permute 3-d", [](auto& in) { return permute(in[0], {2, 0, 1}); }, {leaf({5, 7, 9}, 241)});
  compare_op("permute 5-d", [](auto& in) { return permute(in[0], {4, 1, 3, 0, 2}); }, {leaf({2, 3, 4, 5, 6}, 242)});
  compare_op("permute identity", [](auto& in) { return permute(in[0], {0, 1}); }, {leaf({3, 8}, 243)});
}

// ---- on a GPU: whole networks ----

namespace {
// params and buffers of a ResNet on the device, as leaves.
void move_to(TensorMap& params, TensorMap& buffers, Device device) {
  for (auto& [n, t] : params) t = t.to(device).detach().set_requires_grad(true);
  for (auto& [n, t] : buffers) t = t.to(device).detach();
}

ResNet resnet(const char* arch, int64_t classes) {
  ResNetConfig rc;
  rc.arch = arch;
  rc.num_classes = classes;
  return ResNet(rc);
}
}  // namespace

TEST_CASE("cuda: a ResNet-8 training step and an evaluation forward match the CPU") {
  REQUIRE_GPU_OR_SKIP();
  const ResNet net = resnet("resnet8", 10);
  Generator gen(5);
  TensorMap p_cpu = net.init_parameters(gen), b_cpu = net.init_buffers();
  TensorMap p_gpu = p_cpu, b_gpu = b_cpu;
  move_to(p_gpu, b_gpu, kGpu);
  const Tensor images = randn({32, 3, 32, 32}, 80);
  std::vector<int64_t> labels(32);
  for (int i = 0; i < 32; ++i) labels[i] = i % 10;
  const Tensor l = Tensor::from_labels(labels);
  Tensor loss_cpu = cross_entropy(net.forward(p_cpu, b_cpu, images, true), l);
  Tensor loss_gpu = cross_entropy(net.forward(p_gpu, b_gpu, images.to(kGpu), true), l.to(kGpu));
  CHECK(std::abs(loss_gpu.item() - loss_cpu.item()) <= kTolerance * std::abs(loss_cpu.item()));
  loss_cpu.backward();
  loss_gpu.backward();
  // Gradients through eleven layers: each op is within 1e-4; allow their sum.
  for (const auto& [name, t] : p_cpu) {
    CAPTURE(name);
    CHECK(relative_error(p_gpu.at(name).grad().to(Device::cpu()), t.grad()) <= 1e-3);
  }
  for (const auto& [name, t] : b_cpu) {
    CAPTURE(name);
    CHECK(relative_error(b_gpu.at(name).to(Device::cpu()), t) <= kTolerance);
  }
  NoGradGuard no_grad;
  const Tensor eval_cpu = net.forward(p_cpu, b_cpu, images, false);
  const Tensor eval_gpu = net.forward(p_gpu, b_gpu, images.to(kGpu), false);
  CHECK(relative_error(eval_gpu.to(Device::cpu()), eval_cpu) <= 1e-3);
}

#ifdef TAPER_CUDA
TEST_CASE("cuda: after the first step, training steps allocate no new device memory") {
  REQUIRE_GPU_OR_SKIP();
  const ResNet net = resnet("resnet20", 100);
  Generator gen(6);
  TensorMap params = net.init_parameters(gen), buffers = net.init_buffers();
  move_to(params, buffers, kGpu);
  std::vector<Tensor> list;
  for (auto& [n, t] : params) list.push_back(t);
  Sgd opt(list, SgdHyper{0.1f, 0.9f, 0.0f, 1e-4f, false});
  const Tensor images = randn({64, 3, 32, 32}, 81).to(kGpu);
  std::vector<int64_t> labels(64, 7);
  const Tensor l = Tensor::from_labels(labels).to(kGpu);
  auto step = [&] {
    opt.zero_grad();
    Tensor loss = cross_entropy(net.forward(params, buffers, images, true), l);
    loss.backward();
    opt.step();
    return loss.item();
  };
  step();
  step();
  const auto before = cuda_backend_instance().memory_stats();
  for (int i = 0; i < 5; ++i) CHECK(std::isfinite(step()));
  const auto after = cuda_backend_instance().memory_stats();
  CHECK(after.raw_allocs == before.raw_allocs);
  CHECK(after.reuses > before.reuses);
  MESSAGE("device memory: " << after.peak_in_use_bytes / 1048576 << " MiB peak in use, " << after.raw_allocs
                            << " cudaMalloc calls in all");
}
#endif

// ---- on a GPU: the trainer ----

namespace {
// Each line of RUN_DIR/log.jsonl as (stage/epoch -> loss).
std::map<std::string, double> epoch_losses(const std::string& run_dir) {
  std::map<std::string, double> out;
  std::ifstream in(run_dir + "/log.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    out[j.at("stage").get<std::string>() + "/" + std::to_string(j.at("epoch").get<int>())] = j.at("loss").get<double>();
  }
  return out;
}
nlohmann::json eval_of(const std::string& run_dir) {
  std::ifstream in(run_dir + "/eval.json");
  return nlohmann::json::parse(in);
}
}  // namespace

TEST_CASE("cuda: a tiny TAPER run on the GPU follows the CPU's run, epoch by epoch") {
  REQUIRE_GPU_OR_SKIP();
  if (!std::filesystem::is_directory(data_root() + "/cifar-100-binary")) {
    MESSAGE("skipped: no cifar-100-binary under " << data_root());
    return;
  }
  taper::testing::TempDir dir;
  const RunConfig config = load_config(std::string(TAPER_SOURCE_DIR) + "/tests/configs/tiny_e2e.toml");
  train_run(config, dir / "cpu", false, Device::cpu());
  train_run(config, dir / "gpu", false, kGpu);
  // Same data order, augmentation and initialisation: only rounding differs,
  // so every epoch's mean loss agrees closely and the accuracies within noise.
  const auto cpu = epoch_losses(dir / "cpu"), gpu = epoch_losses(dir / "gpu");
  REQUIRE(cpu.size() == gpu.size());
  for (const auto& [epoch, loss] : cpu) {
    CAPTURE(epoch);
    CHECK(std::abs(gpu.at(epoch) - loss) <= 1e-2 * std::max(1.0, std::abs(loss)));
  }
  const nlohmann::json e_cpu = eval_of(dir / "cpu"), e_gpu = eval_of(dir / "gpu");
  for (const char* metric : {"stage1_standard", "stage1_classifier_selection", "taper_personalized"}) {
    CAPTURE(metric);
    REQUIRE(e_cpu.contains(metric));
    CHECK(std::abs(e_gpu[metric].get<double>() - e_cpu[metric].get<double>()) <= 0.15);
  }
  // The GPU run's checkpoints are ordinary files: `taper eval` on the CPU reads them.
  TrainedRun back = load_run(dir / "gpu");
  CHECK(back.stage1.params.begin()->second.device() == Device::cpu());
}
