// A fresh folder under the system temp folder for one test, removed with
// its contents when the test ends.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace taper::testing {

class TempDir {
 public:
  TempDir() {
    std::string name = (std::filesystem::temp_directory_path() / "taper-test-XXXXXX").string();
    REQUIRE(::mkdtemp(name.data()) != nullptr);
    path = name;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string str() const { return path.string(); }
  // The path of `relative` inside the folder, its parent folders created.
  std::string operator/(const std::string& relative) const {
    const std::filesystem::path p = path / relative;
    std::filesystem::create_directories(p.parent_path());
    return p.string();
  }

  // Writes a file in the folder; returns its path.
  std::string write(const std::string& relative, const std::string& text) const {
    const std::string p = *this / relative;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  // Names of the files in the folder, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::filesystem::path path;
};

}  // namespace taper::testing
