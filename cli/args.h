// Command-line parsing shared by the subcommands: --flag VALUE options,
// --switch booleans and positional arguments (main.cpp answers --help before
// a command runs). Unknown flags and missing values are errors naming the flag.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace taper::cli {

class Args {
 public:
  // options: flags that take a value; switches: flags that don't.
  Args(int argc, char** argv, std::set<std::string> options, std::set<std::string> switches);

  const std::vector<std::string>& positional() const { return positional_; }
  bool has(const std::string& flag) const;
  std::string get(const std::string& flag, const std::string& fallback = "") const;
  // A non-negative integer; throws naming the flag otherwise.
  int64_t count(const std::string& flag, int64_t fallback) const;
  // Throws unless exactly n positional arguments were given.
  void expect_positional(size_t n, const std::string& what) const;

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string> values_;
  std::set<std::string> switches_on_;
};

}  // namespace taper::cli
