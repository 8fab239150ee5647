#include "taper/evaluation_cache.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/atomic_file.h"
#include "taper/content_hash.h"

namespace taper {

namespace {

// What decides a standard network's accuracies besides its weights: the
// config without its training stages (data, architecture, seed), the
// device, and each test image's task classes.
std::string evaluation_context(const Experiment& exp, const std::vector<Task>& tasks) {
  std::string text = to_toml(data_and_network(exp.config)) + "device = " + exp.device.str() + "\ntasks =";
  for (const Task& t : tasks) {
    for (int64_t k : t.classes) text.append(" ").append(std::to_string(k));
    text += ';';
  }
  return text;
}

// The names and bytes of every tensor of the network, hashed.
std::string weights_hash(const TrainState& net) {
  std::string bytes;
  for (const TensorMap* map : {&net.params, &net.buffers}) {
    for (const auto& [name, t] : *map) {
      const Tensor host = t.to(Device::cpu());
      bytes += name + "\n";
      bytes.append(static_cast<const char*>(host.data_ptr()), host.nbytes());
    }
  }
  return content_hash(bytes);
}

nlohmann::json to_json(const Accuracy& a) {
  return {{"correct", a.correct}, {"total", a.total}, {"domain_correct", a.domain_correct},
          {"domain_total", a.domain_total}};
}

Accuracy from_json(const nlohmann::json& j) {
  Accuracy a;
  a.correct = j.at("correct").get<int64_t>();
  a.total = j.at("total").get<int64_t>();
  a.domain_correct = j.at("domain_correct").get<std::vector<int64_t>>();
  a.domain_total = j.at("domain_total").get<std::vector<int64_t>>();
  return a;
}

}  // namespace

EvaluationCache::EvaluationCache(const Experiment& exp, const std::vector<Task>& tasks, std::filesystem::path dir)
    : exp_(exp), tasks_(tasks), dir_(std::move(dir)), context_(dir_.empty() ? "" : evaluation_context(exp, tasks)) {}

// Whether cached counts can be this evaluation's: one per test image, per domain.
bool EvaluationCache::counts_fit(const Accuracy& a) const {
  int64_t sum = 0;
  for (int64_t n : a.domain_total) sum += n;
  return a.domain_total.size() == domain_count(exp_) && a.domain_correct.size() == domain_count(exp_) &&
         a.total == static_cast<int64_t>(tasks_.size()) && sum == a.total && a.correct >= 0 && a.correct <= a.total;
}

StandardAccuracy EvaluationCache::standard(TrainState& net) {
  if (dir_.empty()) return evaluate_standard(exp_, net, tasks_);
  const std::filesystem::path file = dir_ / ("standard-" + content_hash(context_ + weights_hash(net)) + ".json");
  if (std::filesystem::exists(file)) {
    try {
      std::ifstream in(file);
      const nlohmann::json j = nlohmann::json::parse(in);
      const StandardAccuracy acc{from_json(j.at("standard")), from_json(j.at("selection"))};
      if (counts_fit(acc.standard) && counts_fit(acc.selection)) return acc;
      std::fprintf(stderr, "evaluation cache: %s does not hold %zu test images in %zu domains; evaluating again\n",
                   file.c_str(), tasks_.size(), domain_count(exp_));
    } catch (const nlohmann::json::exception& e) {
      std::fprintf(stderr, "evaluation cache: %s is unreadable (%s); evaluating again\n", file.c_str(), e.what());
    }
  }
  const StandardAccuracy acc = evaluate_standard(exp_, net, tasks_);
  std::filesystem::create_directories(dir_);
  write_file_atomically(file.string(),
                        nlohmann::json{{"standard", to_json(acc.standard)}, {"selection", to_json(acc.selection)}}.dump() +
                            "\n");
  return acc;
}

Accuracy EvaluationCache::bases_separately(const Bases& bases) {
  Accuracy pooled(domain_count(exp_));
  for (int64_t q = 0; q < bases.count(); ++q) {
    TrainState basis{bases.params[q], bases.buffers[q], {}, 0};
    pooled.merge(standard(basis).selection);
  }
  return pooled;
}

}  // namespace taper
