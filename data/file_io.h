// File and text helpers shared by the dataset readers. Every failure is a
// DataError naming the path, so readers never check stream states.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace taper {

// The file's bytes; a missing, unreadable or empty file throws DataError.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// The file's lines without their terminators ("\n" or "\r\n", so lists
// written on Windows read the same); trailing empty lines are dropped.
// Throws DataError like read_file_bytes.
std::vector<std::string> read_text_lines(const std::string& path);

// Replaces the file's contents; failures throw DataError naming the path.
void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes);

// "<dir>/<name>", without doubling a trailing slash of dir.
std::string join_path(const std::string& dir, const std::string& name);

// The whole of `text` as a decimal integer (no sign, spaces or suffix);
// false when it is not one or does not fit.
bool parse_int(const std::string& text, int64_t* value);

}  // namespace taper
