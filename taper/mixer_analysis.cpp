#include "taper/mixer_analysis.h"

#include <cmath>
#include <stdexcept>

#include "engine/autograd.h"
#include "taper/personalize.h"

namespace taper {

namespace {

int64_t super_index(const Experiment& exp, const std::string& name) {
  const auto& names = exp.test->meta.super_names;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int64_t>(i);
  }
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("super-category '" + name + "' is not one of " + exp.config.data.dataset + "'s (" +
                              (known.empty() ? "it has none" : known) + ")");
}

double tv_distance(const TaskMixers& a, const TaskMixers& b, int64_t blocks) {
  double sum = 0;
  for (size_t i = 0; i < a.mixers.size(); ++i) sum += std::fabs(a.mixers[i] - b.mixers[i]);
  return 0.5 * sum / blocks;
}

}  // namespace

MixerStudy mixers_of_super_categories(const Experiment& exp, const TaperModel& model,
                                      const std::vector<std::string>& super_categories, int64_t tasks_per_group,
                                      uint64_t seed) {
  NoGradGuard no_grad;
  MixerStudy study;
  for (size_t g = 0; g < super_categories.size(); ++g) {
    const int64_t super = super_index(exp, super_categories[g]);
    std::vector<int64_t> anchors;
    for (int64_t i = 0; i < exp.test->size(); ++i) {
      if (exp.test->meta.super_of_class.at(exp.test->labels[i]) == super) anchors.push_back(i);
    }
    if (anchors.empty()) throw std::invalid_argument("super-category '" + super_categories[g] + "' has no test images");
    Generator gen = Generator(seed).fork(g);
    for (int64_t t = 0; t < tasks_per_group; ++t) {
      const int64_t anchor = anchors[gen.below(anchors.size())];
      const int64_t domain = exp.test->domains.empty() ? -1 : exp.test->domains[anchor];
      const Task task = exp.sampler.sample(exp.test->labels[anchor], domain, gen);
      TaskMixers tm{super_categories[g], task.classes, {}};
      for (const Tensor& a : mix_for_task(exp, model, task).mixers) {
        for (float v : a.to_vector()) tm.mixers.push_back(v);
      }
      study.tasks.push_back(std::move(tm));
    }
  }
  const int64_t blocks = exp.layout.num_blocks;
  int64_t n_within = 0, n_between = 0;
  for (size_t i = 0; i < study.tasks.size(); ++i) {
    for (size_t j = i + 1; j < study.tasks.size(); ++j) {
      const double d = tv_distance(study.tasks[i], study.tasks[j], blocks);
      if (study.tasks[i].group == study.tasks[j].group) {
        study.within += d, ++n_within;
      } else {
        study.between += d, ++n_between;
      }
    }
  }
  study.within /= std::max<int64_t>(1, n_within);
  study.between /= std::max<int64_t>(1, n_between);
  return study;
}

std::vector<std::vector<double>> basis_similarity(const Bases& bases, bool centered) {
  const int64_t q = bases.count();
  std::vector<std::vector<double>> dot(q, std::vector<double>(q, 0.0));
  for (const auto& [name, first] : bases.params.at(0)) {
    const int64_t n = first.numel();
    std::vector<double> mean(n, 0.0);
    for (int64_t a = 0; a < q && centered; ++a) {
      const float* x = bases.params[a].at(name).f32();
      for (int64_t i = 0; i < n; ++i) mean[i] += x[i] / double(q);
    }
    for (int64_t a = 0; a < q; ++a) {
      const float* x = bases.params[a].at(name).f32();
      for (int64_t b = a; b < q; ++b) {
        const float* y = bases.params[b].at(name).f32();
        double s = 0;
        for (int64_t i = 0; i < n; ++i) s += (x[i] - mean[i]) * (y[i] - mean[i]);
        dot[a][b] += s;
      }
    }
  }
  std::vector<std::vector<double>> cosine(q, std::vector<double>(q, 0.0));
  for (int64_t a = 0; a < q; ++a) {
    for (int64_t b = a; b < q; ++b) {
      cosine[a][b] = cosine[b][a] = dot[a][b] / std::sqrt(dot[a][a] * dot[b][b]);
    }
  }
  return cosine;
}

}  // namespace taper
