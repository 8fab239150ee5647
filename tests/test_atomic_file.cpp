// The crash-safe writer every checkpoint and run file goes through: a full
// disk or an unwritable folder gives an error naming the file and reason,
// and never a half-written file. A full disk is simulated with a file-size
// limit (RLIMIT_FSIZE, with SIGXFSZ ignored so that write() fails with EFBIG
// like it fails with ENOSPC on a full disk).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "engine/atomic_file.h"
#include "tests/temp_dir.h"

using namespace taper;
using taper::testing::TempDir;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Files written while this lives cannot grow past `bytes`.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_) == 0);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_{};
  sighandler_t old_handler_ = SIG_DFL;
};

}  // namespace

TEST_CASE("atomic file: replaces the old contents and leaves no temporary") {
  TempDir dir;
  const std::string path = dir / "eval.json";
  write_file_atomically(path, "first");
  write_file_atomically(path, "second, longer");
  CHECK(read_bytes(path) == "second, longer");
  CHECK(dir.entries() == std::vector<std::string>{"eval.json"});
}

TEST_CASE("atomic file: a full disk fails at the write, naming the file; the old file is intact") {
  TempDir dir;
  const std::string path = dir / "stage1.safetensors";
  const std::string old_bytes(1000, 'o');
  write_file_atomically(path, old_bytes);
  {
    const FileSizeLimit limit(4096);
    CHECK_THROWS_WITH_AS(write_file_atomically(path, std::string(100000, 'n')),
                         doctest::Contains((path + ": cannot write " + path + ".tmp.").c_str()), FileWriteError);
    try {
      write_file_atomically(path, std::string(100000, 'n'));
    } catch (const FileWriteError& e) {
      CHECK(std::string(e.what()).find("File too large") != std::string::npos);
      CHECK(std::string(e.what()).find("is unchanged") != std::string::npos);
    }
  }
  CHECK(read_bytes(path) == old_bytes);
  CHECK(dir.entries() == std::vector<std::string>{"stage1.safetensors"});
}

TEST_CASE("atomic file: an unwritable folder fails at the create, naming the file") {
  TempDir dir;
  // A regular file where the folder should be: refused even for root, unlike
  // permission bits (tests/test_output_dir.cpp covers read-only folders).
  const std::string not_a_folder = dir.write("plain", "x");
  const std::string path = not_a_folder + "/model.safetensors";
  CHECK_THROWS_WITH_AS(write_file_atomically(path, "bytes"), doctest::Contains((path + ": cannot create").c_str()),
                       FileWriteError);
  CHECK(read_bytes(not_a_folder) == "x");
}

TEST_CASE("atomic file: temporaries are recognised by name") {
  CHECK(is_atomic_temporary("stage1.safetensors.tmp.12345"));
  CHECK(is_atomic_temporary("config.toml.tmp.7"));
  CHECK_FALSE(is_atomic_temporary("stage1.safetensors"));
  CHECK_FALSE(is_atomic_temporary("notes.tmp.txt"));
  CHECK_FALSE(is_atomic_temporary("x.tmp."));
  CHECK_FALSE(is_atomic_temporary(".tmp.12"));
}
