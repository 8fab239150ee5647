#include "taper/run_ledger.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

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

// The JSON object in `bytes`, without the "recorded" key the ledger adds;
// null when it is not an object.
nlohmann::json results_of(const std::string& bytes) {
  nlohmann::json j = nlohmann::json::parse(bytes, nullptr, false);
  if (!j.is_object()) return nullptr;
  j.erase("recorded");
  return j;
}

// Copies a run file into its record unless the record holds the same results;
// a JSON file gains `provenance` under "recorded", so that every number in
// results/ names the command, commit and machine that produced it. Returns
// whether it wrote.
bool record_file(const fs::path& from, const fs::path& to, const nlohmann::json& provenance) {
  std::string bytes = read_file(from);
  if (from.extension() == ".json") {
    nlohmann::json results = results_of(bytes);
    if (!results.is_null()) {
      if (fs::exists(to) && results_of(read_file(to)) == results) return false;
      results["recorded"] = provenance;
      bytes = results.dump(2) + "\n";
    }
  }
  if (fs::exists(to) && read_file(to) == bytes) return false;
  write_file_atomically(to.string(), bytes);
  return true;
}

// Holds runs/<scale>.ledger.lock (beside the run folders, not among them)
// while a restore or a forget changes run folders. Without it, a restore by
// one process (a --jobs shard starting, a --plan beside them) could copy a
// record back into a folder that another shard is emptying to train it
// again, leaving a run that looks finished and has no checkpoints.
class LedgerLock {
 public:
  explicit LedgerLock(const fs::path& runs) {
    const std::string path = runs.string() + ".ledger.lock";
    fs::create_directories(runs.parent_path().empty() ? "." : runs.parent_path());
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error(path + ": cannot open the ledger lock: " + std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const std::string why = std::strerror(errno);
        ::close(fd_);
        throw std::runtime_error(path + ": cannot lock: " + why);
      }
    }
  }
  ~LedgerLock() { ::close(fd_); }  // releases the lock
  LedgerLock(const LedgerLock&) = delete;
  LedgerLock& operator=(const LedgerLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace

void restore_runs(const fs::path& ledger, const fs::path& runs) {
  if (!fs::exists(ledger)) return;
  const LedgerLock lock(runs);
  for (const auto& record : fs::directory_iterator(ledger)) {
    if (!fs::exists(record.path() / "eval.json")) continue;
    const fs::path dir = runs / record.path().filename();
    const bool restored = is_restored(dir), trained_here = fs::exists(dir / "eval.json") && !restored;
    // A folder with neither is a run training here (perhaps one forgotten to
    // train again) or interrupted: it resumes from its own checkpoints.
    if (fs::exists(dir) && !trained_here && !restored) continue;
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
    const bool copied = record_file(f.path(), record / f.path().filename(), provenance);
    new_eval = new_eval || (copied && f.path().filename() == "eval.json");
  }
  if (new_eval || !fs::exists(record / kProvenance)) {
    write_file_atomically((record / kProvenance).string(), provenance.dump(1) + "\n");
  }
}

bool is_restored(const fs::path& dir) { return fs::exists(dir / kProvenance); }

void forget_restored(const fs::path& dir) {
  const LedgerLock lock(dir.parent_path());
  std::vector<fs::path> files;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().filename() != "config.toml") files.push_back(f.path());
  }
  for (const fs::path& f : files) fs::remove(f);
}

}  // namespace taper
