// The paper's evaluation protocol (§4.1): every test image comes with its
// own task (fixed by tasks.eval_seed); accuracy is top-1 over the whole
// label space for the standard model, and within the task for classifier
// selection and for TAPER's personalized model of that task.
#pragma once

#include <vector>

#include "taper/checkpoint.h"
#include "taper/stages.h"

namespace taper {

// Correct / total, overall and per domain (Table 5 reports accuracy per domain).
struct Accuracy {
  int64_t correct = 0, total = 0;
  std::vector<int64_t> domain_correct, domain_total;

  explicit Accuracy(size_t domains = 1) : domain_correct(domains, 0), domain_total(domains, 0) {}
  void add(bool hit, int64_t domain);
  void merge(const Accuracy& other);  // adds other's counts (the same domains)
  double overall() const { return total ? double(correct) / total : 0.0; }
  double of_domain(size_t d) const { return domain_total[d] ? double(domain_correct[d]) / domain_total[d] : 0.0; }
  bool operator==(const Accuracy&) const = default;
};

struct StandardAccuracy {
  Accuracy standard;   // arg-max over all classes
  Accuracy selection;  // arg-max over the image's task classes
  bool operator==(const StandardAccuracy&) const = default;
};

// The test data's domains (1 when it has none): the size of an Accuracy of it.
size_t domain_count(const Experiment& exp);

// One pass over the test images (stage 1, the baseline, a basis, an average:
// taper/evaluation_cache.h caches these).
StandardAccuracy evaluate_standard(const Experiment& exp, TrainState& net, const std::vector<Task>& tasks);

struct TaperAccuracy {
  Accuracy personalized;       // the personalized network of the image's task (its k classifier rows)
  Accuracy without_selection;  // the same mixed network keeping every classifier row (Table 6 row 11)
  bool operator==(const TaperAccuracy&) const = default;
};

// Each image is classified by the network personalized for its task.
TaperAccuracy evaluate_taper(const Experiment& exp, const TaperModel& model, const std::vector<Task>& tasks);

// The free-language study (§5.1, Table 7): the mean over tasks of the cosine
// between the mixers predicted from exp's description of each task and from
// `other`'s (all blocks' mixers as one vector). Throws when the two
// descriptions differ in dimension.
double mean_mixer_cosine(const Experiment& exp, const TaperModel& model, const std::vector<Task>& tasks,
                         const TaskDescriber& other);

}  // namespace taper
