// Personalizing from free language (§5.1): a user describes the task in
// words, e.g. "a drinking glass with a base and stem; a tall chest of
// drawers". Each ';'-separated part is embedded by the sentence encoder;
// the task description is the mean of the parts' embeddings (the words
// themselves, not class names), and the task's classes, which classifier
// selection needs, are the class closest to each part by cosine against
// the run's class embeddings.
#pragma once

#include <string>
#include <vector>

#include "data/task_sampler.h"
#include "taper/sentence_encoder.h"
#include "taper/task_description.h"

namespace taper {

struct ClassMatch {
  int64_t label = 0;
  double cosine = 0.0;
};

struct FreeTextTask {
  std::vector<std::string> parts;
  std::vector<std::vector<ClassMatch>> closest;  // per part, best first
  Task task;                                     // the parts' best classes, sorted, without repeats
  std::vector<float> description;                // mean of the parts' embeddings
};

// describer: the run's, of kind text or definitions (throws
// std::invalid_argument for bow, or for a text without any part). domain:
// -1 for none. Keeps `top` matches per part.
FreeTextTask free_text_task(const std::string& text, const TaskDescriber& describer, const SentenceEncoder& encoder,
                            int64_t num_classes, int64_t domain = -1, size_t top = 3);

}  // namespace taper
