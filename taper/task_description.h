// Task descriptions (§3.5): the vector the mixer predictor reads for a task.
//
//   bow          |Y| floats, 1 at the task's classes (no external model)
//   text         the mean of the task's class embeddings (all-MiniLM-L6-v2,
//                taper/sentence_encoder.h). A class embedding is a prompt
//                ensemble, as CLIP's evaluation does it: the unit embeddings
//                of prompt_templates() filled with the class name, averaged
//                and renormalised. Tasks within a domain (tasks.sampler =
//                "domain") embed the paper's domain prompt "This is a
//                {domain} {class}." instead.
//   definitions  the same with each class's WordNet definition as its one
//                sentence: free language (§5.1, Table 7); cifar100 only
//
// Sentence embeddings are cached in <data root>/text-embeddings/, one file
// per sentence list (named after its content), so the encoder runs once per
// dataset and kind; a damaged cache file is recomputed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/task_sampler.h"
#include "engine/tensor.h"

namespace taper {

// "a photo of a {}." and CLIP's seven other chosen ImageNet templates.
const std::vector<std::string>& prompt_templates();
// A template with "{}" replaced by the class name, underscores as spaces.
std::string fill_template(const std::string& templ, const std::string& class_name);

class TaskDescriber {
 public:
  // kind: bow | text | definitions. domain_tasks: the tasks carry a domain
  // (text then embeds one domain prompt per (domain, class)). Throws
  // TextModelMissing when a text kind needs the encoder and it is absent,
  // DataError for definitions of a dataset without WordNet glosses.
  TaskDescriber(const std::string& kind, const std::string& dataset, const ClassMetadata& meta, bool domain_tasks,
                const std::string& root = data_root());

  const std::string& kind() const { return kind_; }
  int64_t dim() const { return dim_; }
  std::vector<float> describe(const Task& task) const;
  // Text kinds: one unit row per class ([C, D]; [domains * C, D] in domain
  // order with domain tasks). Undefined for bow.
  const Tensor& class_embeddings() const { return table_; }

 private:
  std::string kind_;
  int64_t classes_ = 0, dim_ = 0;
  bool per_domain_ = false;
  Tensor table_;
};

// Unit embeddings [N, D] of the sentences, from the cache file for this list
// and this build of the program when there is one, else computed and cached
// (<root>/text-embeddings/; files of older builds can be deleted).
Tensor cached_sentence_embeddings(const std::vector<std::string>& sentences, const std::string& name,
                                  const std::string& root = data_root());

// The mean of rows `rows` of a [R, D] table.
std::vector<float> mean_of_rows(const Tensor& table, const std::vector<int64_t>& rows);

}  // namespace taper
