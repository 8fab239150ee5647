// A process-wide scratch folder for fuzz targets whose parser reads files
// (the dataset loaders take a folder, not bytes): each input is written to a
// fixed file in it, on tmpfs when /dev/shm exists. Removed at exit.
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "data/file_io.h"

namespace taper::fuzz {

inline const std::string& scratch_dir() {
  // Never destroyed: the atexit cleanup runs after static destructors would.
  static const std::string* const dir = [] {
    const bool shm = std::filesystem::is_directory("/dev/shm");
    std::string name = (shm ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path()) /
                       "taper-fuzz-XXXXXX";
    if (::mkdtemp(name.data()) == nullptr) {
      std::perror("taper fuzz: mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(), ignored);
    });
    return new std::string(name);
  }();
  return *dir;
}

// "<scratch>/<relative>" with its parent folders created.
inline std::string scratch_path(const std::string& relative) {
  const std::filesystem::path p = std::filesystem::path(scratch_dir()) / relative;
  std::filesystem::create_directories(p.parent_path());
  return p.string();
}

// Writes the fuzz input (possibly empty) to a scratch file; returns its path.
inline std::string write_scratch(const std::string& relative, const uint8_t* data, size_t size) {
  const std::string path = scratch_path(relative);
  write_file_bytes(path, std::vector<uint8_t>(data, data + size));
  return path;
}

}  // namespace taper::fuzz
