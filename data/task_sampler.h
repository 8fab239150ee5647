// The paper's task samplers (§4): for an image with label y, a k-way task
// (a set of classes containing y) that the image is classified within.
//
//   wordnet-nearest  the other k-1 classes drawn from the 2k classes nearest
//                    to y in WordNet (ImageNet, §4.2; CIFAR-100 stand-in)
//   super-category   the other classes from y's super-category (iNaturalist,
//                    §4.3; CIFAR-100's 20 coarse classes). When it holds fewer
//                    than k classes, whole other super-categories, drawn at
//                    random, are added until k classes (the last one drawn
//                    partially), so a task is always a few coherent groups.
//   domain           k classes within the image's domain (DomainNet, §4.4):
//                    y plus k-1 uniform others; described per class as
//                    "This is a {domain} {class}."
//   uniform          y plus k-1 uniform others (no structure; a control).
// Dynamic k (Table 3) draws k uniformly from [k_min, k_max] for every task.
//
// Training tasks are re-drawn every epoch; evaluation tasks are fixed by a
// seed. Both come from assign_tasks(), a pure function of (seed, epoch, image).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "engine/rng.h"

namespace taper {

enum class TaskKind { WordNetNearest, SuperCategory, Domain, Uniform };

struct Task {
  std::vector<int64_t> classes;  // sorted ascending; contains the image's label
  int64_t domain = -1;           // the domain the task is described in (-1: none)
};

struct TaskSamplerOptions {
  TaskKind kind = TaskKind::Uniform;
  int64_t k_min = 20, k_max = 20;  // equal: fixed k
};

// "wordnet-nearest", "super-category", "domain", "uniform" (and back).
TaskKind task_kind_from_name(const std::string& name);
const char* task_kind_name(TaskKind kind);

class TaskSampler {
 public:
  // nearest[c]: the other classes ordered by WordNet distance to c (needed
  // only for WordNetNearest).
  TaskSampler(const ClassMetadata& meta, TaskSamplerOptions options,
              std::vector<std::vector<int64_t>> nearest = {});

  Task sample(int64_t label, int64_t domain, Generator& gen) const;
  const TaskSamplerOptions& options() const { return options_; }

 private:
  std::vector<int64_t> others_wordnet(int64_t label, int64_t k, Generator& gen) const;
  std::vector<int64_t> others_super(int64_t label, int64_t k, Generator& gen) const;
  std::vector<int64_t> others_uniform(int64_t label, int64_t k, Generator& gen) const;

  ClassMetadata meta_;
  TaskSamplerOptions options_;
  std::vector<std::vector<int64_t>> nearest_;
  std::vector<std::vector<int64_t>> members_;  // classes of each super-category
};

// One task per image of the dataset, for (seed, epoch): image i's task uses
// Generator(seed, epoch).fork(i), so it does not depend on order or threads.
std::vector<Task> assign_tasks(const Dataset& data, const TaskSampler& sampler, uint64_t seed, int64_t epoch);

// The BoW description: |Y| floats, 1 at the task's classes.
std::vector<float> bow_description(const Task& task, int64_t num_classes);

// "This is a {domain} {class}." with underscores shown as spaces.
std::string domain_class_sentence(const std::string& domain, const std::string& class_name);

}  // namespace taper
