#include "taper/free_text.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace taper {

namespace {

std::vector<std::string> split_parts(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ';');) {
    const size_t begin = part.find_first_not_of(" \t\n"), end = part.find_last_not_of(" \t\n");
    if (begin != std::string::npos) parts.push_back(part.substr(begin, end - begin + 1));
  }
  return parts;
}

double cosine(const float* a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < b.size(); ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return ab / std::sqrt(std::max(aa * bb, 1e-30));
}

}  // namespace

FreeTextTask free_text_task(const std::string& text, const TaskDescriber& describer, const SentenceEncoder& encoder,
                            int64_t num_classes, int64_t domain, size_t top) {
  if (describer.kind() == "bow") {
    throw std::invalid_argument("free-text descriptions need a run trained with tasks.description = \"text\" (or "
                                "\"definitions\"); this run's mixer predictor reads bag-of-words vectors");
  }
  FreeTextTask out;
  out.parts = split_parts(text);
  if (out.parts.empty()) throw std::invalid_argument("the text holds no description (parts are separated by ';')");
  const Tensor emb = encoder.encode(out.parts);
  const int64_t d = emb.size(1);
  std::vector<std::vector<float>> classes(num_classes);  // each class as the run describes it alone
  for (int64_t c = 0; c < num_classes; ++c) classes[c] = describer.describe(Task{{c}, domain});
  for (size_t p = 0; p < out.parts.size(); ++p) {
    std::vector<ClassMatch> matches;
    for (int64_t c = 0; c < num_classes; ++c) matches.push_back({c, cosine(emb.f32() + p * d, classes[c])});
    std::stable_sort(matches.begin(), matches.end(), [](const ClassMatch& a, const ClassMatch& b) { return a.cosine > b.cosine; });
    matches.resize(std::min(top, matches.size()));
    out.task.classes.push_back(matches.front().label);
    out.closest.push_back(std::move(matches));
  }
  std::sort(out.task.classes.begin(), out.task.classes.end());
  out.task.classes.erase(std::unique(out.task.classes.begin(), out.task.classes.end()), out.task.classes.end());
  out.task.domain = domain;
  std::vector<int64_t> rows(out.parts.size());
  for (size_t p = 0; p < rows.size(); ++p) rows[p] = static_cast<int64_t>(p);
  out.description = mean_of_rows(emb, rows);
  return out;
}

}  // namespace taper
