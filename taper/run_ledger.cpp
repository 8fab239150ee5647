#include "taper/run_ledger.h"

#include <fstream>
#include <sstream>
#include <string>

#include "engine/atomic_file.h"

namespace taper {

namespace fs = std::filesystem;

namespace {

constexpr const char* kProvenance = "recorded.json";

// The files of a run folder that the ledger keeps: everything but checkpoints.
bool is_record_file(const fs::path& file) {
  const std::string name = file.filename().string();
  return name == "config.toml" || name == "log.jsonl" || (file.extension() == ".json" && name != kProvenance);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Copies `from` to `to` unless `to` holds the same bytes; returns whether it copied.
bool copy_if_changed(const fs::path& from, const fs::path& to) {
  const std::string bytes = read_file(from);
  if (fs::exists(to) && read_file(to) == bytes) return false;
  write_file_atomically(to.string(), bytes);
  return true;
}

}  // namespace

void restore_runs(const fs::path& ledger, const fs::path& runs) {
  if (!fs::exists(ledger)) return;
  for (const auto& record : fs::directory_iterator(ledger)) {
    if (!fs::exists(record.path() / "eval.json")) continue;
    const fs::path dir = runs / record.path().filename();
    const bool trained_here = fs::exists(dir / "eval.json") && !is_restored(dir);
    fs::create_directories(dir);
    for (const auto& f : fs::directory_iterator(record.path())) {
      // A run trained here keeps its own files and stays trained here; it
      // only gains the ledger's later evaluations and analyses.
      const fs::path name = f.path().filename();
      if (fs::exists(dir / name) || (trained_here && name == kProvenance)) continue;
      if (name == kProvenance || is_record_file(f.path())) {
        write_file_atomically((dir / name).string(), read_file(f.path()));
      }
    }
  }
}

void record_run(const fs::path& dir, const fs::path& ledger, const nlohmann::json& provenance) {
  if (!fs::exists(dir / "eval.json")) return;
  const fs::path record = ledger / dir.filename();
  fs::create_directories(record);
  bool new_eval = false;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (!is_record_file(f.path())) continue;
    const bool copied = copy_if_changed(f.path(), record / f.path().filename());
    new_eval = new_eval || (copied && f.path().filename() == "eval.json");
  }
  if (new_eval || !fs::exists(record / kProvenance)) {
    write_file_atomically((record / kProvenance).string(), provenance.dump(1) + "\n");
  }
}

bool is_restored(const fs::path& dir) { return fs::exists(dir / kProvenance); }

void forget_restored(const fs::path& dir) {
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().filename() != "config.toml") fs::remove(f.path());
  }
}

}  // namespace taper
