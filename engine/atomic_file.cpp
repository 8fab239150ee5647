#include "engine/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace taper {
namespace {

constexpr const char* kTemporaryMarker = ".tmp.";

// write() may write less than asked (signals, pipes, near-full disks).
bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Makes the rename itself durable. Best effort: some filesystems refuse
// fsync on directories, and the new file is complete either way.
void sync_parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

[[noreturn]] void fail(const std::string& path, const std::string& step, const std::string& tmp, int err) {
  throw FileWriteError(path + ": cannot " + step + " " + tmp + ": " + std::strerror(err) +
                       " (any previous " + path + " is unchanged)");
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + kTemporaryMarker + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "create", tmp, errno);

  const char* failed = nullptr;
  if (!write_all(fd, bytes.data(), bytes.size())) {
    failed = "write";
  } else if (::fsync(fd) != 0) {
    failed = "fsync";
  }
  int err = errno;
  // close() can report a deferred write error (NFS, quotas); don't retry it
  // on EINTR, Linux has already released the descriptor.
  if (::close(fd) != 0 && !failed) {
    failed = "close";
    err = errno;
  }
  if (!failed && ::rename(tmp.c_str(), path.c_str()) != 0) {
    failed = "rename";
    err = errno;
  }
  if (failed) {
    ::unlink(tmp.c_str());
    fail(path, failed, tmp, err);
  }
  sync_parent_dir(path);
}

bool is_atomic_temporary(const std::string& file_name) {
  const size_t at = file_name.rfind(kTemporaryMarker);
  if (at == std::string::npos || at == 0) return false;
  const std::string pid = file_name.substr(at + std::strlen(kTemporaryMarker));
  return !pid.empty() && pid.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace taper
