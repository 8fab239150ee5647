#include "data/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace taper {
namespace {

[[noreturn]] void fail_errno(const std::string& path, const std::string& what, int err) {
  throw DataError(path + ": " + what + ": " + std::strerror(err));
}

// Closes the descriptor on every path out, exceptions included.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  const Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) fail_errno(path, "cannot open", errno);
  // Sized from fstat (+1 byte, to see the end of file without growing):
  // growing by 1 MB chunks zero-filled a megabyte for every 100 KB JPEG.
  // Files that grow meanwhile, and pipes, still read whole, chunk by chunk.
  constexpr size_t kChunk = size_t{1} << 20;
  struct stat st;
  const bool sized = ::fstat(file.fd, &st) == 0 && S_ISREG(st.st_mode);
  std::vector<uint8_t> out(sized ? static_cast<size_t>(st.st_size) + 1 : kChunk);
  size_t used = 0;
  for (;;) {
    if (used == out.size()) out.resize(used + kChunk);
    const ssize_t n = ::read(file.fd, out.data() + used, out.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(path, "cannot read", errno);
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  out.resize(used);
  if (out.empty()) throw DataError(path + ": empty file");
  return out;
}

std::vector<std::string> read_text_lines(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  std::vector<std::string> lines(1);
  for (const uint8_t b : bytes) {
    if (b == '\n') {
      lines.emplace_back();
    } else {
      lines.back().push_back(static_cast<char>(b));
    }
  }
  for (std::string& line : lines) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  const Fd file{::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  if (file.fd < 0) fail_errno(path, "cannot open for writing", errno);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(file.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(path, "cannot write", errno);
    done += static_cast<size_t>(n);
  }
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

bool parse_int(const std::string& text, int64_t* value) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return false;
  const char* end = text.data() + text.size();
  const auto [stop, err] = std::from_chars(text.data(), end, *value);
  return err == std::errc() && stop == end;
}

}  // namespace taper
