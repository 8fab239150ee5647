#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <vector>

#include "engine/atomic_file.h"

namespace taper {

// Tensor bytes are memcpy'd straight between the file and storage, which is
// only right when the host is little-endian like the format.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

using json = nlohmann::json;

// The reference implementation's cap: a header this big is an attack or a
// corrupt length field, never a real checkpoint.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// A valid header nests object -> entry object -> array, and its arrays hold
// at most kMaxDims (shape) or 2 (data_offsets) numbers. The caps sit above
// that so ordinary mistakes (6 dims) still get their specific message later.
constexpr size_t kMaxNesting = 3;
constexpr size_t kMaxArrayLength = 64;

[[noreturn]] void fail(const std::string& origin, const std::string& where, const std::string& what) {
  throw SafetensorsError(origin + ": " + where + ": " + what);
}

std::string tensor_where(const std::string& name) { return "tensor '" + name + "'"; }

// ---- JSON parse guard ----

// nlohmann silently keeps the last of duplicate keys, and a tensor named twice
// is ambiguous, so this parse callback rejects duplicates. It also stops
// absurd nesting or array lengths while parsing: a 100 MB header of "[[[[" or
// of one long array would otherwise cost gigabytes before validation runs.
class ParseGuard {
 public:
  explicit ParseGuard(const std::string& origin) : origin_(origin) {}

  bool on_event(json::parse_event_t event, const json& parsed) {
    using E = json::parse_event_t;
    switch (event) {
      case E::object_start: open(false); break;
      case E::array_start: open(true); break;
      case E::object_end:
      case E::array_end: stack_.pop_back(); break;
      case E::key: on_key(parsed.get<std::string>()); break;
      case E::value: count_element(); break;
    }
    return true;
  }

 private:
  struct Level {
    bool is_array = false;
    size_t length = 0;
    std::set<std::string> keys;
  };

  void open(bool is_array) {
    count_element();
    if (stack_.size() >= kMaxNesting) fail(origin_, where(), "JSON nests deeper than a safetensors header can");
    stack_.push_back(Level{is_array, 0, {}});
  }

  void count_element() {
    if (stack_.empty() || !stack_.back().is_array) return;
    if (++stack_.back().length > kMaxArrayLength) {
      fail(origin_, where(), "JSON array longer than " + std::to_string(kMaxArrayLength) + " elements");
    }
  }

  void on_key(const std::string& key) {
    if (stack_.size() == 1) entry_ = key;
    if (!stack_.back().keys.insert(key).second) fail(origin_, where(), "duplicate key '" + key + "'");
  }

  // Errors inside an entry name the tensor; top-level ones name the header.
  std::string where() const {
    if (stack_.size() < 2) return "header";
    return entry_ == "__metadata__" ? "header: __metadata__" : tensor_where(entry_);
  }

  const std::string& origin_;
  std::vector<Level> stack_;
  std::string entry_;
};

// nlohmann quotes the offending input in its messages, which may be raw
// binary; keep error messages safe to print and log.
std::string printable(const char* text) {
  std::string s = text;
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return s;
}

json parse_header_json(const char* begin, const char* end, const std::string& origin) {
  // The format requires the header to start with '{'; checking first also
  // gives a clearer message than the JSON parser for garbage files.
  if (begin == end || *begin != '{') fail(origin, "header", "does not start with '{'");
  ParseGuard guard(origin);
  auto callback = [&guard](int, json::parse_event_t event, json& parsed) { return guard.on_event(event, parsed); };
  try {
    return json::parse(begin, end, callback);
  } catch (const json::exception& e) {
    fail(origin, "header", "invalid JSON: " + printable(e.what()));
  }
}

// ---- header validation ----

struct Entry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// nlohmann stores non-negative integers as unsigned and negative ones as
// signed; floats (even 3.0) and numbers past 2^64 are rejected like the
// reference implementation does.
bool as_count(const json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(v.get<int64_t>());
    return true;
  }
  return false;
}

std::string offsets_str(uint64_t begin, uint64_t end) {
  // Built by appending: GCC 12 flags "[" + std::string&& with a bogus -Wrestrict.
  std::string s = "[";
  s.append(std::to_string(begin)).append(", ").append(std::to_string(end)).append("]");
  return s;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void check_fields(const json& v, const std::string& origin, const std::string& where) {
  if (!v.is_object()) fail(origin, where, std::string("entry must be a JSON object, got ") + v.type_name());
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!v.contains(field)) fail(origin, where, std::string("missing field '") + field + "'");
  }
  for (const auto& [key, value] : v.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      fail(origin, where, "unexpected field '" + key + "'");
    }
  }
}

DType parse_dtype(const json& v, const std::string& origin, const std::string& where) {
  if (!v.is_string()) fail(origin, where, std::string("dtype must be a string, got ") + v.type_name());
  DType dtype;
  const std::string name = v.get<std::string>();
  if (!dtype_from_name(name, &dtype)) {
    fail(origin, where, "unsupported dtype '" + name + "' (taper reads F32, I64, U8)");
  }
  return dtype;
}

std::vector<int64_t> parse_shape(const json& v, const std::string& origin, const std::string& where) {
  if (!v.is_array()) fail(origin, where, std::string("shape must be an array, got ") + v.type_name());
  if (v.size() > static_cast<size_t>(kMaxDims)) {
    fail(origin, where,
         "shape has " + std::to_string(v.size()) + " dims; at most " + std::to_string(kMaxDims) + " are supported");
  }
  std::vector<int64_t> shape;
  for (size_t i = 0; i < v.size(); ++i) {
    uint64_t extent;
    if (!as_count(v[i], &extent) || extent > static_cast<uint64_t>(INT64_MAX)) {
      fail(origin, where,
           "shape[" + std::to_string(i) + "] = " + v[i].dump() + " is not a non-negative 64-bit integer");
    }
    shape.push_back(static_cast<int64_t>(extent));
  }
  return shape;
}

void parse_offsets(const json& v, Entry* e, const std::string& origin, const std::string& where) {
  if (!v.is_array() || v.size() != 2 || !as_count(v[0], &e->begin) || !as_count(v[1], &e->end)) {
    fail(origin, where, "data_offsets must be two non-negative integers [begin, end], got " + v.dump());
  }
  if (e->begin > e->end) {
    fail(origin, where, "data_offsets " + offsets_str(e->begin, e->end) + " end before they begin");
  }
}

// Overflow-checked, so a shape like [2^32, 2^32, 4] cannot wrap around to
// a small size that happens to match the offsets.
void check_size(const Entry& e, const std::string& origin, const std::string& where) {
  const std::string described = std::string(dtype_name(e.dtype)) + " " + shape_str(e.shape);
  int64_t numel = 1;
  uint64_t bytes = 0;
  for (int64_t extent : e.shape) {
    if (__builtin_mul_overflow(numel, extent, &numel)) {
      fail(origin, where, described + " has more elements than fit in int64");
    }
  }
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), dtype_size(e.dtype), &bytes)) {
    fail(origin, where, described + " has more bytes than fit in 64 bits");
  }
  if (e.end - e.begin != bytes) {
    fail(origin, where,
         "data_offsets " + offsets_str(e.begin, e.end) + " hold " + std::to_string(e.end - e.begin) + " bytes but " +
             described + " needs " + std::to_string(bytes));
  }
}

Entry parse_entry(const std::string& name, const json& v, uint64_t data_bytes, const std::string& origin) {
  const std::string where = tensor_where(name);
  check_fields(v, origin, where);
  Entry e;
  e.name = name;
  e.dtype = parse_dtype(v.at("dtype"), origin, where);
  e.shape = parse_shape(v.at("shape"), origin, where);
  parse_offsets(v.at("data_offsets"), &e, origin, where);
  check_size(e, origin, where);
  if (e.end > data_bytes) {
    fail(origin, where,
         "data_offsets " + offsets_str(e.begin, e.end) + " run past the " + std::to_string(data_bytes) +
             "-byte data buffer");
  }
  return e;
}

std::map<std::string, std::string> parse_metadata(const json& v, const std::string& origin) {
  if (!v.is_object()) fail(origin, "header", std::string("__metadata__ must be an object, got ") + v.type_name());
  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : v.items()) {
    if (!value.is_string()) {
      fail(origin, "header", "__metadata__ value for '" + key + "' must be a string, got " + value.type_name());
    }
    metadata[key] = value.get<std::string>();
  }
  return metadata;
}

// The format requires the tensors to tile the data buffer exactly: no byte
// claimed twice (a write to one tensor would corrupt another) and none left
// over (hidden payloads). Zero-byte tensors may sit anywhere on a boundary.
void check_coverage(std::vector<Entry>& entries, uint64_t data_bytes, const std::string& origin) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t covered = 0;
  const Entry* last = nullptr;
  for (const Entry& e : entries) {
    const std::string where = tensor_where(e.name);
    if (e.begin < covered) {
      fail(origin, where,
           "data_offsets " + offsets_str(e.begin, e.end) + " overlap tensor '" + last->name + "' at " +
               offsets_str(last->begin, last->end));
    }
    if (e.begin > covered) {
      fail(origin, where,
           "data_offsets " + offsets_str(e.begin, e.end) + " leave bytes [" + std::to_string(covered) + ", " +
               std::to_string(e.begin) + ") of the data buffer uncovered");
    }
    covered = e.end;
    last = &e;
  }
  if (covered != data_bytes) {
    fail(origin, "header",
         "tensors cover " + std::to_string(covered) + " bytes but the data buffer holds " + std::to_string(data_bytes));
  }
}

uint64_t read_u64_le(const std::string& bytes) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

void append_u64_le(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// ---- the header as a whole ----

// The header length field at the start of `bytes`, checked against the
// file's size (`bytes` may hold just the first 8 of its `file_bytes`).
uint64_t header_length(const std::string& bytes, uint64_t file_bytes, const std::string& origin) {
  if (file_bytes < 8 || bytes.size() < 8) {
    fail(origin, "header", "file is " + std::to_string(file_bytes) + " bytes, too short for the 8-byte header length");
  }
  const uint64_t header_bytes = read_u64_le(bytes);
  if (header_bytes > file_bytes - 8) {
    fail(origin, "header",
         "header length " + std::to_string(header_bytes) + " exceeds the " + std::to_string(file_bytes - 8) +
             " bytes after the length field");
  }
  if (header_bytes > kMaxHeaderBytes) {
    fail(origin, "header", "header length " + std::to_string(header_bytes) + " exceeds the 100 MB limit");
  }
  return header_bytes;
}

struct Header {
  std::vector<Entry> entries;  // in data order, tiling the data buffer
  std::map<std::string, std::string> metadata;
};

// The header JSON at `begin`, every entry checked against a data buffer of
// `data_bytes` without touching it.
Header parse_header(const char* begin, uint64_t header_bytes, uint64_t data_bytes, const std::string& origin) {
  const json header = parse_header_json(begin, begin + header_bytes, origin);
  if (!header.is_object()) fail(origin, "header", std::string("must be a JSON object, got ") + header.type_name());
  Header out;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      out.metadata = parse_metadata(value, origin);
    } else {
      out.entries.push_back(parse_entry(name, value, data_bytes, origin));
    }
  }
  check_coverage(out.entries, data_bytes, origin);
  return out;
}

// ---- POSIX file helpers ----

[[noreturn]] void fail_errno(const std::string& path, const std::string& what, int err) {
  throw SafetensorsError(path + ": " + what + ": " + std::strerror(err));
}

// The file's first `limit` bytes (all of it by default).
std::string read_file(const std::string& path, size_t limit = SIZE_MAX) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno(path, "cannot open", errno);
  // Sized from fstat (+1 byte, to see the end of file without growing),
  // chunk by chunk only past that (a file growing meanwhile, a pipe).
  constexpr size_t kChunk = size_t{1} << 20;
  struct stat st;
  const bool sized = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  std::string out(std::min(limit, sized ? static_cast<size_t>(st.st_size) + 1 : kChunk), '\0');
  size_t used = 0;
  while (used < limit) {
    if (used == out.size()) out.resize(std::min(limit, used + kChunk));
    const ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      fail_errno(path, "cannot read", err);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(used);
  return out;
}

// ---- serialization ----

json tensor_header(const std::string& name, const Tensor& t, uint64_t offset, const std::string& origin) {
  const std::string where = tensor_where(name);
  if (name == "__metadata__") fail(origin, where, "the name is reserved for metadata");
  if (!t.defined()) fail(origin, where, "undefined tensor");
  if (!t.device().is_cpu()) fail(origin, where, "on " + t.device().str() + "; only CPU tensors can be saved");
  return json{{"dtype", dtype_name(t.dtype())},
              {"shape", t.shape().to_vector()},
              {"data_offsets", json::array({offset, offset + t.nbytes()})}};
}

std::string serialize(const SafetensorsFile& file, const std::string& origin) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : file.tensors) {
    header[name] = tensor_header(name, t, offset, origin);
    offset += t.nbytes();
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // names or metadata that are not UTF-8
    fail(origin, "header", printable(e.what()));
  }
  // Trailing spaces are legal in the header; they make the data start at an
  // 8-byte aligned file offset, as the reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  append_u64_le(&out, text.size());
  out += text;
  for (const auto& [name, t] : file.tensors) {
    const Tensor host = t.to(Device::cpu());  // device tensors are saved from a host copy
    out.append(static_cast<const char*>(host.data_ptr()), host.nbytes());
  }
  return out;
}

}  // namespace

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& origin) {
  const uint64_t header_bytes = header_length(bytes, bytes.size(), origin);
  const char* header_begin = bytes.data() + 8;
  Header header = parse_header(header_begin, header_bytes, bytes.size() - 8 - header_bytes, origin);
  // Only now, with every claim checked, is tensor data touched.
  const char* data = header_begin + header_bytes;
  SafetensorsFile file;
  file.metadata = std::move(header.metadata);
  for (const Entry& e : header.entries) {
    Tensor t = Tensor::empty(Shape(e.shape), e.dtype);
    std::memcpy(t.data_ptr(), data + e.begin, e.end - e.begin);
    file.tensors.emplace(e.name, std::move(t));
  }
  return file;
}

SafetensorsFile load_safetensors(const std::string& path) { return parse_safetensors(read_file(path), path); }

std::map<std::string, std::string> load_safetensors_metadata(const std::string& path) {
  const std::string length_field = read_file(path, 8);
  std::error_code err;
  const uint64_t file_bytes = std::filesystem::file_size(path, err);
  if (err) fail_errno(path, "cannot stat", err.value());
  const uint64_t header_bytes = header_length(length_field, file_bytes, path);
  const std::string prefix = read_file(path, 8 + header_bytes);
  if (prefix.size() < 8 + header_bytes) fail(path, "header", "the file shrank while being read");
  return parse_header(prefix.data() + 8, header_bytes, file_bytes - 8 - header_bytes, path).metadata;
}

std::string serialize_safetensors(const SafetensorsFile& file) { return serialize(file, "serialize_safetensors"); }

void save_safetensors(const std::string& path, const SafetensorsFile& file) {
  write_file_atomically(path, serialize(file, path));
}

}  // namespace taper
