#include "data/task_sampler.h"

#include <algorithm>
#include <stdexcept>

namespace taper {

namespace {

// Draws m distinct elements of pool (partial Fisher-Yates on a copy).
std::vector<int64_t> draw(std::vector<int64_t> pool, int64_t m, Generator& gen) {
  m = std::min<int64_t>(m, static_cast<int64_t>(pool.size()));
  for (int64_t i = 0; i < m; ++i) std::swap(pool[i], pool[i + gen.below(pool.size() - i)]);
  pool.resize(m);
  return pool;
}

std::vector<int64_t> without(int64_t n, int64_t excluded) {
  std::vector<int64_t> all;
  for (int64_t c = 0; c < n; ++c) {
    if (c != excluded) all.push_back(c);
  }
  return all;
}

}  // namespace

TaskKind task_kind_from_name(const std::string& name) {
  for (TaskKind k : {TaskKind::WordNetNearest, TaskKind::SuperCategory, TaskKind::Domain, TaskKind::Uniform}) {
    if (name == task_kind_name(k)) return k;
  }
  throw std::invalid_argument("unknown task sampler '" + name +
                              "' (expected wordnet-nearest, super-category, domain or uniform)");
}

const char* task_kind_name(TaskKind kind) {
  switch (kind) {
    case TaskKind::WordNetNearest: return "wordnet-nearest";
    case TaskKind::SuperCategory: return "super-category";
    case TaskKind::Domain: return "domain";
    case TaskKind::Uniform: return "uniform";
  }
  return "?";
}

TaskSampler::TaskSampler(const ClassMetadata& meta, TaskSamplerOptions options,
                         std::vector<std::vector<int64_t>> nearest)
    : meta_(meta), options_(options), nearest_(std::move(nearest)) {
  const int64_t n = meta.num_classes();
  check_arg(1 <= options.k_min && options.k_min <= options.k_max && options.k_max <= n, "TaskSampler", [&] {
    return "need 1 <= k_min <= k_max <= " + std::to_string(n) + " classes, got [" + std::to_string(options.k_min) +
           ", " + std::to_string(options.k_max) + "]";
  });
  if (options.kind == TaskKind::WordNetNearest) {
    check_arg(static_cast<int64_t>(nearest_.size()) == n, "TaskSampler", [&] {
      return "wordnet-nearest needs a neighbour list for each of the " + std::to_string(n) + " classes";
    });
  }
  if (options.kind == TaskKind::SuperCategory) {
    check_arg(static_cast<int64_t>(meta.super_of_class.size()) == n && !meta.super_names.empty(), "TaskSampler",
              "super-category tasks need super-categories, and this dataset has none");
    members_.resize(meta.super_names.size());
    for (int64_t c = 0; c < n; ++c) members_.at(meta.super_of_class[c]).push_back(c);
  }
  if (options.kind == TaskKind::Domain) {
    check_arg(!meta.domain_names.empty(), "TaskSampler", "domain tasks need domains, and this dataset has none");
  }
}

Task TaskSampler::sample(int64_t label, int64_t domain, Generator& gen) const {
  check_arg(0 <= label && label < meta_.num_classes(), "TaskSampler",
            [&] { return "label " + std::to_string(label) + " out of range"; });
  const int64_t k = options_.k_min + static_cast<int64_t>(gen.below(options_.k_max - options_.k_min + 1));
  Task task;
  switch (options_.kind) {
    case TaskKind::WordNetNearest: task.classes = others_wordnet(label, k, gen); break;
    case TaskKind::SuperCategory: task.classes = others_super(label, k, gen); break;
    case TaskKind::Domain: task.domain = domain; [[fallthrough]];
    case TaskKind::Uniform: task.classes = others_uniform(label, k, gen); break;
  }
  task.classes.push_back(label);
  std::sort(task.classes.begin(), task.classes.end());
  return task;
}

std::vector<int64_t> TaskSampler::others_wordnet(int64_t label, int64_t k, Generator& gen) const {
  const auto& order = nearest_[label];
  const int64_t pool = std::min<int64_t>(2 * k, static_cast<int64_t>(order.size()));
  return draw({order.begin(), order.begin() + pool}, k - 1, gen);
}

std::vector<int64_t> TaskSampler::others_super(int64_t label, int64_t k, Generator& gen) const {
  const int64_t own = meta_.super_of_class[label];
  std::vector<int64_t> mates;
  for (int64_t c : members_[own]) {
    if (c != label) mates.push_back(c);
  }
  std::vector<int64_t> chosen = draw(mates, k - 1, gen);
  // Fill up with whole super-categories in random order.
  std::vector<int64_t> supers = draw(without(static_cast<int64_t>(members_.size()), own), members_.size(), gen);
  for (int64_t s : supers) {
    const int64_t missing = k - 1 - static_cast<int64_t>(chosen.size());
    if (missing <= 0) break;
    for (int64_t c : draw(members_[s], missing, gen)) chosen.push_back(c);
  }
  return chosen;
}

std::vector<int64_t> TaskSampler::others_uniform(int64_t label, int64_t k, Generator& gen) const {
  return draw(without(meta_.num_classes(), label), k - 1, gen);
}

std::vector<Task> assign_tasks(const Dataset& data, const TaskSampler& sampler, uint64_t seed, int64_t epoch) {
  std::vector<Task> tasks(data.size());
  const Generator base(seed, static_cast<uint64_t>(epoch));
  for (int64_t i = 0; i < data.size(); ++i) {
    Generator gen = base.fork(static_cast<uint64_t>(i));
    tasks[i] = sampler.sample(data.labels[i], data.domains.empty() ? 0 : data.domains[i], gen);
  }
  return tasks;
}

std::vector<float> bow_description(const Task& task, int64_t num_classes) {
  std::vector<float> bits(num_classes, 0.0f);
  for (int64_t c : task.classes) bits.at(c) = 1.0f;
  return bits;
}

std::string domain_class_sentence(const std::string& domain, const std::string& class_name) {
  std::string name = class_name;
  std::replace(name.begin(), name.end(), '_', ' ');
  std::string dom = domain;
  std::replace(dom.begin(), dom.end(), '_', ' ');
  return "This is a " + dom + " " + name + ".";
}

}  // namespace taper
