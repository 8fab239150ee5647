// Classifier selection (§3.2): a task keeps only its classes' rows of the
// classifier. In training the loss is the cross-entropy over the task's
// classes (the other logits are masked out); at evaluation the prediction is
// the arg-max over the task's classes; a condensed model keeps only those rows.
#pragma once

#include <vector>

#include "engine/tensor.h"
#include "nn/resnet.h"

namespace taper {

// A [rows, classes] additive mask: 0 at each row's task classes, -1e9 elsewhere.
Tensor task_mask(const std::vector<std::vector<int64_t>>& row_tasks, int64_t num_classes);

// Mean cross-entropy of logits [N, C] restricted to each row's task classes.
Tensor selected_cross_entropy(const Tensor& logits, const Tensor& labels,
                              const std::vector<std::vector<int64_t>>& row_tasks);

// Arg-max of a logit row over the given classes (all classes when empty).
int64_t predict(const float* logits_row, int64_t num_classes, const std::vector<int64_t>& task_classes);

// The classifier rows of the task: fc.weight [k, F], fc.bias [k], in task order.
void select_classifier_rows(TensorMap& params, const std::vector<int64_t>& task_classes);

}  // namespace taper
