#include "cli/args.h"

#include <cstdlib>
#include <stdexcept>

namespace taper::cli {

Args::Args(int argc, char** argv, std::set<std::string> options, std::set<std::string> switches) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (options.count(arg)) {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      values_[arg] = argv[++i];
    } else if (switches.count(arg)) {
      switches_on_.insert(arg);
    } else if (arg.rfind("-", 0) == 0 && arg.size() > 1) {
      throw std::invalid_argument("unknown option '" + arg + "' (see --help)");
    } else {
      positional_.push_back(arg);
    }
  }
}

bool Args::has(const std::string& flag) const { return values_.count(flag) || switches_on_.count(flag); }

std::string Args::get(const std::string& flag, const std::string& fallback) const {
  auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second;
}

int64_t Args::count(const std::string& flag, int64_t fallback) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || v < 0) {
    throw std::invalid_argument(flag + " expects a non-negative integer, got '" + it->second + "'");
  }
  return v;
}

void Args::expect_positional(size_t n, const std::string& what) const {
  if (positional_.size() != n) {
    throw std::invalid_argument("expected " + what + " (see --help), got " + std::to_string(positional_.size()) +
                                " positional argument(s)");
  }
}

}  // namespace taper::cli
