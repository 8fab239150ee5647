// Crash-safe file replacement: the bytes go to a temporary file beside the
// target (<path>.tmp.<pid>), are flushed and fsync'ed, and the temporary is
// renamed over the target. A kill, a full disk or an unwritable folder at any
// moment leaves either the old file or the new one, never a mix; a kill can
// leave the temporary, which is_atomic_temporary recognises.
//
// Every checkpoint, model and run-directory file taper writes goes through
// here (safetensors, config.toml, eval.json, the rewritten log.jsonl).
#pragma once

#include <stdexcept>
#include <string>

namespace taper {

// A failed write; the message names the file, the step that failed (create,
// write, fsync, close, rename) and the system's reason, and says the old file
// is unchanged.
class FileWriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void write_file_atomically(const std::string& path, const std::string& bytes);

// True for the name of a temporary write_file_atomically leaves when killed.
bool is_atomic_temporary(const std::string& file_name);

}  // namespace taper
