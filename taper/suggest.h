// "Did you mean" suggestions for mistyped config keys and class names.
#pragma once

#include <string>
#include <vector>

namespace taper {

// Levenshtein distance.
size_t edit_distance(const std::string& a, const std::string& b);

// The (at most) n known names closest to `typed`, nearest first.
std::vector<std::string> closest_names(const std::string& typed, const std::vector<std::string>& known, size_t n);

}  // namespace taper
