// `taper train` into an output folder it cannot use: a read-only folder is
// refused before the data is loaded, naming the folder; a disk that fills up
// during training fails at the failing checkpoint write, naming the file and
// the reason, leaves no partial checkpoint, and the run resumes afterwards to
// the same result as an uninterrupted run. Also the determinism of a whole
// run across thread counts (item 1 of the reliability issue).
//
// Read-only folders do not stop root, so as root the child drops to user
// nobody (setpriv); a full disk is a file-size limit (prlimit) with SIGXFSZ
// ignored, so that write() fails with EFBIG as it fails with ENOSPC.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/child_process.h"
#include "tests/temp_dir.h"

using namespace taper::testing;
namespace fs = std::filesystem;

namespace {

// Every file of a finished run that must not depend on timing or threads.
const std::vector<std::string> kRunFiles = {"config.toml", "stage1.safetensors", "stage2.shard00.safetensors",
                                            "stage2.shard01.safetensors", "stage3.safetensors",
                                            "baseline.safetensors", "eval.json"};

// log.jsonl without the timing fields (seconds, images_per_second).
std::string log_without_timing(const std::string& path) {
  std::string out, line;
  std::istringstream in(read_bytes(path));
  while (std::getline(in, line)) {
    for (const std::string key : {"\"images_per_second\":", "\"seconds\":"}) {
      const size_t at = line.find(key);
      if (at == std::string::npos) continue;
      const size_t end = line.find_first_of(",}", at);
      line.erase(at, end - at + (line[end] == ',' ? 1 : 0));
    }
    out += line + "\n";
  }
  return out;
}

void check_same_run(const std::string& a, const std::string& b) {
  for (const std::string& f : kRunFiles) {
    CAPTURE(f);
    REQUIRE(fs::exists(b + "/" + f));
    CHECK(read_bytes(a + "/" + f) == read_bytes(b + "/" + f));
  }
  CHECK(log_without_timing(a + "/log.jsonl") == log_without_timing(b + "/log.jsonl"));
}

std::vector<std::string> temporaries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (contains(e.path().filename().string(), ".tmp")) names.push_back(e.path().filename().string());
  }
  return names;
}

}  // namespace

TEST_CASE("output dir: a read-only folder is refused before training, naming it") {
  const std::string bin = taper_binary();
  if (bin.empty()) {
    MESSAGE("skipped: no taper binary beside this test binary (make build/taper)");
    return;
  }
  std::vector<std::string> as_user;
  if (::geteuid() == 0) {
    if (::access("/usr/bin/setpriv", X_OK) != 0) {
      MESSAGE("skipped: running as root and no /usr/bin/setpriv to drop to an unprivileged user");
      return;
    }
    as_user = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  }
  TempDir dir;
  ::chmod(dir.str().c_str(), 0755);
  const std::string locked = dir / "locked";
  fs::create_directory(locked);
  // An empty data root: an error about data would mean the check came too late.
  const std::string no_data = dir / "no-data";
  fs::create_directory(no_data);
  ::chmod(locked.c_str(), 0555);
  struct Case {
    std::string out, says;
  };
  for (const Case& c : {Case{locked, locked + ": the run directory is not writable"},
                        Case{locked + "/run", locked + "/run: cannot create the run directory"}}) {
    std::vector<std::string> args = as_user;
    for (const std::string& a : {bin, std::string("train"), config_path("tiny_resume.toml"), std::string("--out"), c.out})
      args.push_back(a);
    Child run(args, no_data, dir / "ro");
    const int code = run.wait();
    const std::string err = run.err();
    CAPTURE(err);
    if (contains(err, "setpriv:")) {
      MESSAGE("skipped: setpriv could not run the taper binary as nobody (is its folder readable?)");
      return;
    }
    CHECK(code == 1);
    CHECK(contains(err, c.says));
    CHECK(contains(err, "Permission denied"));
  }
  CHECK(fs::is_empty(locked));
}

TEST_CASE("output dir: a full disk fails at the checkpoint write, leaves nothing partial, and --resume (1 thread) ends with the bytes of an uninterrupted 2-thread run") {
  const std::string bin = taper_binary(), data = cifar_root();
  if (bin.empty() || data.empty() || ::access("/usr/bin/prlimit", X_OK) != 0) {
    MESSAGE("skipped: needs build/taper, CIFAR-100 (make data) and /usr/bin/prlimit");
    return;
  }
  TempDir dir;
  const std::string cfg = config_path("tiny_resume.toml"), full = dir / "full", whole = dir / "whole";
  // Room for config.toml (~1 KB), the 4 KB writability probe and the log,
  // not for stage 1's first checkpoint (~50 KB).
  {
    Child run({"/bin/sh", "-c", "trap '' XFSZ; exec /usr/bin/prlimit --fsize=16384 \"$@\"", "sh", bin, "train", cfg,
               "--out", full},
              data, dir / "full");
    const int code = run.wait();
    const std::string err = run.err();
    CAPTURE(err);
    CHECK(code == 1);
    CHECK(contains(err, full + "/stage1.safetensors: cannot write " + full + "/stage1.safetensors.tmp."));
    CHECK(contains(err, "File too large"));
    CHECK_FALSE(fs::exists(full + "/stage1.safetensors"));
    CHECK(temporaries(full).empty());
  }
  {
    Child run({bin, "train", cfg, "--out", full, "--resume"}, data, dir / "resume");
    REQUIRE_MESSAGE(run.wait() == 0, run.err());
  }
  {
    Child run({bin, "train", cfg, "--out", whole}, data, dir / "whole", {"OMP_NUM_THREADS=2"});
    REQUIRE_MESSAGE(run.wait() == 0, run.err());
  }
  // The resumed run used one thread, the uninterrupted one two: the same bytes.
  check_same_run(whole, full);
}
