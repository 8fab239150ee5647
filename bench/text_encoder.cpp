// Text descriptions' cost: embedding the 100 CIFAR-100 class names through
// the 8-template prompt ensemble (800 sentences) with all-MiniLM-L6-v2 on
// the CPU, as a task describer does on a cache miss. Target: under 2 s.
// Prints the best wall time of 3 and its process CPU time: on a machine
// shared with other jobs, the CPU time of an OMP_NUM_THREADS=1 run is what
// the wall time of one idle core would be.
// A benchmark, not a test: needs `make text-model`.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/pinned_blas.h"
#include "bench/timing.h"
#include "data/class_hierarchy.h"
#include "data/file_io.h"
#include "taper/sentence_encoder.h"
#include "taper/task_description.h"

using namespace taper;
using taper::bench::cpu_seconds;
using taper::bench::seconds_since;

namespace {

// The class names in label order: column 1 of the committed WordNet mapping.
std::vector<std::string> cifar100_class_names() {
  std::vector<std::string> names;
  for (const std::string& line : read_text_lines(cifar100_wordnet_path())) {
    if (!line.empty() && line[0] != '#') names.push_back(line.substr(0, line.find('\t')));
  }
  return names;
}

}  // namespace

int main(int, char** argv) {
  taper::bench::pin_blas_as_taper_does(argv);
  if (!text_model_available()) {
    std::fprintf(stderr, "bench_text_encoder: no model in %s; run `make text-model`\n", text_model_dir().c_str());
    return 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  const SentenceEncoder encoder = SentenceEncoder::load();
  std::printf("load all-MiniLM-L6-v2 (safetensors + vocab): %.3f s\n", seconds_since(t0));
  std::vector<std::string> sentences;
  for (const std::string& c : cifar100_class_names()) {
    for (const std::string& t : prompt_templates()) sentences.push_back(fill_template(t, c));
  }
  int64_t tokens = 0;
  for (const std::string& s : sentences) tokens += static_cast<int64_t>(encoder.token_ids(s).size());
  double best = 1e30, best_cpu = 0.0;
  for (int rep = 0; rep < 3; ++rep) {
    t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    const Tensor emb = encoder.encode(sentences);
    const double wall = seconds_since(t0), cpu = cpu_seconds() - c0;
    if (wall < best) best = wall, best_cpu = cpu;
    if (emb.size(0) != static_cast<int64_t>(sentences.size())) return 1;
  }
  std::printf("embed %zu CIFAR-100 classes x %zu templates = %zu sentences (%lld tokens): %.3f s wall best of 3, "
              "%.3f s CPU (%.0f sentences/s; target < 2 s)\n",
              sentences.size() / prompt_templates().size(), prompt_templates().size(), sentences.size(),
              static_cast<long long>(tokens), best, best_cpu, sentences.size() / best);
  return 0;
}
