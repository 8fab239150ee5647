// safetensors reader/writer: round trips, the on-disk layout the reference
// writer produces, and a table of malformed files that must each be rejected
// with a message naming the file and the offending tensor.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/temp_dir.h"
#include "engine/atomic_file.h"
#include "engine/safetensors.h"

namespace fs = std::filesystem;
using taper::DType;
using taper::FileWriteError;
using taper::SafetensorsError;
using taper::SafetensorsFile;
using taper::Shape;
using taper::Tensor;

namespace {

using taper::testing::TempDir;

std::string u64_le(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// A file with the given header text (unpadded) and data bytes.
std::string st_file(const std::string& header, const std::string& data = "") {
  return u64_le(header.size()) + header + data;
}

std::string message_of(const std::string& bytes, const std::string& origin) {
  try {
    taper::parse_safetensors(bytes, origin);
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "<no error>";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Tensor f32_tensor(const std::vector<float>& values, const Shape& shape) { return Tensor::from_vector(values, shape); }

Tensor i64_tensor(const std::vector<int64_t>& values, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::I64);
  std::memcpy(t.data_ptr(), values.data(), values.size() * sizeof(int64_t));
  return t;
}

Tensor u8_tensor(const std::vector<uint8_t>& values, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::U8);
  std::memcpy(t.data_ptr(), values.data(), values.size());
  return t;
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.nbytes() == b.nbytes() &&
         std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) == 0;
}

SafetensorsFile sample_file() {
  SafetensorsFile f;
  std::vector<float> ramp(2 * 1 * 3 * 1 * 2);
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = 0.5f * static_cast<float>(i) - 3.0f;
  f.tensors["conv1.weight"] = f32_tensor({1.5f, -2.0f, 0.0f, 3.25f, 1e-30f, -7.0f}, Shape{2, 3});
  f.tensors["five_d"] = f32_tensor(ramp, Shape{2, 1, 3, 1, 2});
  f.tensors["scalar"] = f32_tensor({42.0f}, Shape{});
  f.tensors["labels"] = i64_tensor({0, -1, INT64_MAX, INT64_MIN}, Shape{4});
  f.tensors["step"] = i64_tensor({12345678901LL}, Shape{});
  f.tensors["pixels"] = u8_tensor({0, 1, 127, 128, 255}, Shape{5});
  f.tensors["empty"] = Tensor::empty(Shape{0, 3}, DType::F32);
  f.metadata["format"] = "pt";
  f.metadata["note"] = "unicode \xc3\xa9 and \"quotes\"";
  return f;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("safetensors: round trip of F32, I64 and U8 tensors with metadata") {
  const SafetensorsFile original = sample_file();
  const SafetensorsFile back = taper::parse_safetensors(taper::serialize_safetensors(original), "mem");
  CHECK(back.metadata == original.metadata);
  REQUIRE(back.tensors.size() == original.tensors.size());
  for (const auto& [name, t] : original.tensors) {
    CAPTURE(name);
    REQUIRE(back.tensors.count(name) == 1);
    CHECK(same_tensor(back.tensors.at(name), t));
    CHECK(back.tensors.at(name).device().is_cpu());
  }
  CHECK(back.tensors.at("scalar").ndim() == 0);
  CHECK(back.tensors.at("scalar").f32()[0] == 42.0f);
  CHECK(back.tensors.at("five_d").ndim() == 5);
  CHECK(back.tensors.at("labels").i64()[2] == INT64_MAX);
  CHECK(back.tensors.at("pixels").u8()[4] == 255);
}

TEST_CASE("safetensors: round trip through a file on disk") {
  TempDir dir;
  const std::string path = (dir.path / "model.safetensors").string();
  taper::save_safetensors(path, sample_file());
  const SafetensorsFile back = taper::load_safetensors(path);
  CHECK(back.tensors.size() == sample_file().tensors.size());
  CHECK(same_tensor(back.tensors.at("five_d"), sample_file().tensors.at("five_d")));
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});  // no temp file left
}

TEST_CASE("safetensors: empty file and metadata-free file round trip") {
  const std::string bytes = taper::serialize_safetensors(SafetensorsFile{});
  CHECK(bytes == u64_le(8) + "{}      ");  // no "__metadata__" when there is none
  const SafetensorsFile back = taper::parse_safetensors(bytes, "mem");
  CHECK(back.tensors.empty());
  CHECK(back.metadata.empty());
}

TEST_CASE("safetensors: data starts 8-byte aligned, offsets contiguous in name order") {
  for (int name_length = 1; name_length <= 9; ++name_length) {
    CAPTURE(name_length);
    SafetensorsFile f;
    f.tensors[std::string(name_length, 'b')] = u8_tensor({1, 2, 3}, Shape{3});
    f.tensors["a"] = f32_tensor({1.0f}, Shape{1});
    const std::string bytes = taper::serialize_safetensors(f);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
    CHECK((8 + n) % 8 == 0);
    REQUIRE(bytes.size() == 8 + n + 4 + 3);
    const std::string header = bytes.substr(8, n);
    CHECK(header.front() == '{');
    CHECK(header.find_last_not_of(' ') == header.rfind('}'));  // only spaces pad it
    CHECK(contains(header, "\"a\":{\"data_offsets\":[0,4]"));
    CHECK(contains(header, "\"data_offsets\":[4,7]"));
    CHECK(bytes.substr(8 + n + 4) == std::string("\x01\x02\x03", 3));
  }
}

// Byte for byte what safetensors 0.8 (the library behind PyTorch's
// save_file) writes: I64 tensors first (it orders by alignment, then name),
// keys not sorted, header padded with spaces to a multiple of 8, data not
// padded at the end.
TEST_CASE("safetensors: reads a file laid out by the reference PyTorch writer") {
  const std::string header =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"step\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
      "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
      "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]},"
      "\"mask\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[32,35]}}   ";
  REQUIRE(header.size() == 272);
  const unsigned char data[] = {
      0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // step = 7
      0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x80, 0xbf,  // fc.bias = [0.25, -1]
      0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40,  // fc.weight = [[1, 2],
      0x00, 0x00, 0x40, 0x40, 0x00, 0x00, 0x00, 0xbf,  //              [3, -0.5]]
      0x01, 0x00, 0xff,                                // mask = [1, 0, 255]
  };
  const std::string bytes =
      std::string("\x10\x01\0\0\0\0\0\0", 8) + header + std::string(reinterpret_cast<const char*>(data), sizeof data);
  const SafetensorsFile f = taper::parse_safetensors(bytes, "torch.safetensors");
  CHECK(f.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  REQUIRE(f.tensors.size() == 4);
  const Tensor& step = f.tensors.at("step");
  CHECK(step.dtype() == DType::I64);
  CHECK(step.ndim() == 0);
  CHECK(step.i64()[0] == 7);
  const Tensor& bias = f.tensors.at("fc.bias");
  CHECK(bias.shape() == Shape{2});
  CHECK(bias.f32()[0] == 0.25f);
  CHECK(bias.f32()[1] == -1.0f);
  const Tensor& weight = f.tensors.at("fc.weight");
  CHECK(weight.shape() == Shape{2, 2});
  CHECK(weight.f32()[0] == 1.0f);
  CHECK(weight.f32()[1] == 2.0f);
  CHECK(weight.f32()[2] == 3.0f);
  CHECK(weight.f32()[3] == -0.5f);
  const Tensor& mask = f.tensors.at("mask");
  CHECK(mask.dtype() == DType::U8);
  CHECK(mask.u8()[0] == 1);
  CHECK(mask.u8()[1] == 0);
  CHECK(mask.u8()[2] == 255);
}

TEST_CASE("safetensors: every truncation of a valid file is rejected") {
  SafetensorsFile f;
  f.tensors["w"] = f32_tensor({1.0f, 2.0f, 3.0f}, Shape{3});
  f.tensors["n"] = i64_tensor({5}, Shape{1});
  f.metadata["k"] = "v";
  const std::string bytes = taper::serialize_safetensors(f);
  for (size_t length = 0; length < bytes.size(); ++length) {
    CAPTURE(length);
    CHECK(contains(message_of(bytes.substr(0, length), "cut.safetensors"), "cut.safetensors: "));
  }
  // One byte too many is an uncovered byte, just as wrong.
  CHECK(contains(message_of(bytes + '\0', "long.safetensors"), "long.safetensors: header: tensors cover"));
}

// What load_safetensors_metadata throws for a file holding `bytes`.
std::string metadata_message_of(const std::string& bytes, const fs::path& path) {
  std::ofstream(path, std::ios::binary) << bytes;
  try {
    taper::load_safetensors_metadata(path.string());
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST_CASE("safetensors: the metadata alone, read from the header, checked as a whole load checks it") {
  TempDir dir;
  const fs::path path = dir.path / "model.safetensors";
  taper::save_safetensors(path.string(), sample_file());
  CHECK(taper::load_safetensors_metadata(path.string()) == sample_file().metadata);
  CHECK(!sample_file().metadata.empty());
  // A file cut anywhere, even in the tensor data it never reads, or one byte
  // too long, is rejected with load_safetensors' message.
  const std::string bytes = taper::serialize_safetensors(sample_file());
  for (size_t length = 0; length <= bytes.size(); ++length) {
    CAPTURE(length);
    const std::string cut = length < bytes.size() ? bytes.substr(0, length) : bytes + '\0';
    const std::string expected = message_of(cut, path.string());
    CHECK(contains(expected, path.string() + ": "));
    CHECK(metadata_message_of(cut, path) == expected);
  }
  CHECK_THROWS_WITH_AS(taper::load_safetensors_metadata((dir.path / "absent").string()),
                       doctest::Contains("absent: cannot open"), SafetensorsError);
}

TEST_CASE("safetensors: header length beyond the file or the 100 MB limit") {
  CHECK(contains(message_of(u64_le(1000) + "{}", "f"), "f: header: header length 1000 exceeds the 2 bytes"));
  CHECK(contains(message_of(u64_le(UINT64_MAX) + "{}", "f"), "f: header: header length"));
  std::string huge = u64_le(100'000'001) + "{}";
  huge.resize(8 + 100'000'001, ' ');
  CHECK(contains(message_of(huge, "big"), "big: header: header length 100000001 exceeds the 100 MB limit"));
}

TEST_CASE("safetensors: malformed headers are rejected naming the file and tensor") {
  struct Case {
    std::string label;
    std::string bytes;
    std::string expected;  // after "bad.st: "
  };
  const std::string f32_12 = std::string(12, '\0');
  std::string long_list = "0";
  for (int i = 0; i < 99; ++i) long_list += ",0";
  const std::vector<Case> cases = {
      {"empty file", "", "header: file is 0 bytes"},
      {"short file", "abc", "header: file is 3 bytes"},
      {"zero-length header", u64_le(0), "header: does not start with '{'"},
      {"not an object", st_file("[1, 2]"), "header: does not start with '{'"},
      {"invalid JSON", st_file("{\"a\": "), "header: invalid JSON"},
      {"invalid UTF-8", st_file("{\"\xff\": 1}"), "header: invalid JSON"},
      {"entry not an object", st_file("{\"w\": 5}"), "tensor 'w': entry must be a JSON object, got number"},
      {"missing field", st_file("{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}"),
       "tensor 'w': missing field 'data_offsets'"},
      {"extra field", st_file("{\"w\": {\"dtype\": \"U8\", \"shape\": [], \"data_offsets\": [0, 1], \"x\": 0}}", "a"),
       "tensor 'w': unexpected field 'x'"},
      {"dtype not a string", st_file("{\"w\": {\"dtype\": 1, \"shape\": [], \"data_offsets\": [0, 4]}}", "abcd"),
       "tensor 'w': dtype must be a string"},
      {"unsupported dtype", st_file("{\"w\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [0, 4]}}", "abcd"),
       "tensor 'w': unsupported dtype 'F16'"},
      {"shape not an array", st_file("{\"w\": {\"dtype\": \"U8\", \"shape\": 3, \"data_offsets\": [0, 3]}}", "abc"),
       "tensor 'w': shape must be an array"},
      {"negative extent", st_file("{\"w\": {\"dtype\": \"U8\", \"shape\": [-1], \"data_offsets\": [0, 0]}}"),
       "tensor 'w': shape[0] = -1 is not a non-negative 64-bit integer"},
      {"fractional extent", st_file("{\"w\": {\"dtype\": \"U8\", \"shape\": [2.0], \"data_offsets\": [0, 2]}}", "ab"),
       "tensor 'w': shape[0] = 2.0 is not"},
      {"extent past int64",
       st_file("{\"w\": {\"dtype\": \"U8\", \"shape\": [9223372036854775808], \"data_offsets\": [0, 0]}}"),
       "tensor 'w': shape[0] = 9223372036854775808 is not"},
      {"six dims", st_file("{\"w\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1], \"data_offsets\": [0, 1]}}", "a"),
       "tensor 'w': shape has 6 dims; at most 5 are supported"},
      {"three offsets", st_file("{\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1, 2]}}", "a"),
       "tensor 'w': data_offsets must be two non-negative integers"},
      {"negative offset", st_file("{\"w\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [-1, 0]}}"),
       "tensor 'w': data_offsets must be two"},
      {"offsets not an array", st_file("{\"w\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": \"0,0\"}}"),
       "tensor 'w': data_offsets must be two"},
      {"end before begin", st_file("{\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 0]}}", "a"),
       "tensor 'w': data_offsets [1, 0] end before they begin"},
      {"size mismatch",
       st_file("{\"conv1.weight\": {\"dtype\": \"F32\", \"shape\": [3, 4], \"data_offsets\": [0, 40]}}",
               std::string(40, '\0')),
       "tensor 'conv1.weight': data_offsets [0, 40] hold 40 bytes but F32 [3, 4] needs 48"},
      {"element count overflows int64",
       st_file("{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4], \"data_offsets\": [0, 0]}}"),
       "tensor 'w': F32 [4294967296, 4294967296, 4] has more elements than fit in int64"},
      {"byte count overflows",
       st_file("{\"w\": {\"dtype\": \"I64\", \"shape\": [4611686018427387904], \"data_offsets\": [0, 0]}}"),
       "tensor 'w': I64 [4611686018427387904] has more bytes than fit in 64 bits"},
      {"offsets past the end",
       st_file("{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [4, 16]}}", f32_12),
       "tensor 'w': data_offsets [4, 16] run past the 12-byte data buffer"},
      {"huge offsets",
       st_file("{\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": "
               "[18446744073709551614, 18446744073709551615]}}",
               "a"),
       "tensor 'w': data_offsets [18446744073709551614, 18446744073709551615] run past"},
      {"overlap",
       st_file("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
               " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
               f32_12),
       "tensor 'b': data_offsets [4, 12] overlap tensor 'a' at [0, 8]"},
      {"aliasing",
       st_file("{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 12]},"
               " \"b\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 12]}}",
               f32_12),
       "tensor 'b': data_offsets [0, 12] overlap tensor 'a'"},
      {"gap",
       st_file("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
               " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}",
               f32_12),
       "tensor 'b': data_offsets [8, 12] leave bytes [4, 8) of the data buffer uncovered"},
      {"leading gap", st_file("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", f32_12),
       "tensor 'a': data_offsets [4, 12] leave bytes [0, 4)"},
      {"trailing bytes", st_file("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", f32_12),
       "header: tensors cover 8 bytes but the data buffer holds 12"},
      {"metadata value not a string", st_file("{\"__metadata__\": {\"epoch\": 3}}"),
       "header: __metadata__ value for 'epoch' must be a string, got number"},
      {"metadata not an object", st_file("{\"__metadata__\": [\"a\"]}"), "header: __metadata__ must be an object"},
      {"metadata null", st_file("{\"__metadata__\": null}"), "header: __metadata__ must be an object, got null"},
      {"duplicate tensor",
       st_file("{\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
               " \"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}",
               "a"),
       "header: duplicate key 'w'"},
      {"duplicate field",
       st_file("{\"w\": {\"dtype\": \"U8\", \"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 1]}}", "a"),
       "tensor 'w': duplicate key 'dtype'"},
      {"deep nesting", st_file("{\"w\": {\"shape\": [[[1]]]}}"), "tensor 'w': JSON nests deeper"},
      {"long array", st_file("{\"w\": {\"shape\": [" + long_list + "]}}"),
       "tensor 'w': JSON array longer than 64 elements"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.label);
    const std::string message = message_of(c.bytes, "bad.st");
    CAPTURE(message);
    CHECK(contains(message, "bad.st: " + c.expected));
    // Raw header bytes (here the 0xff) must not leak into messages.
    CHECK(std::all_of(message.begin(), message.end(), [](char ch) { return ch >= 0x20 && ch < 0x7f; }));
  }
}

TEST_CASE("safetensors: zero-byte tensors may share a boundary") {
  const std::string bytes = st_file(
      "{\"z1\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]},"
      " \"a\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 2]},"
      " \"z2\": {\"dtype\": \"I64\", \"shape\": [3, 0], \"data_offsets\": [2, 2]}}",
      "xy");
  const SafetensorsFile f = taper::parse_safetensors(bytes, "zero.st");
  CHECK(f.tensors.at("z1").numel() == 0);
  CHECK(f.tensors.at("z2").shape() == Shape{3, 0});
  CHECK(f.tensors.at("a").u8()[1] == 'y');
}

TEST_CASE("safetensors: serialize rejects what the format cannot hold") {
  SafetensorsFile reserved;
  reserved.tensors["__metadata__"] = f32_tensor({1.0f}, Shape{1});
  CHECK_THROWS_WITH_AS(taper::serialize_safetensors(reserved), doctest::Contains("tensor '__metadata__'"),
                       SafetensorsError);

  SafetensorsFile undefined;
  undefined.tensors["w"] = Tensor();
  CHECK_THROWS_WITH_AS(taper::serialize_safetensors(undefined), doctest::Contains("tensor 'w': undefined"),
                       SafetensorsError);

  SafetensorsFile not_utf8;
  not_utf8.tensors["bad\xff"] = f32_tensor({1.0f}, Shape{1});
  CHECK_THROWS_AS(taper::serialize_safetensors(not_utf8), SafetensorsError);

  // This build has no CUDA storage, so relabel a CPU allocation to stand in.
  SafetensorsFile on_gpu;
  Tensor t = f32_tensor({1.0f}, Shape{1});
  t.impl()->storage->device = taper::Device::cuda(0);
  on_gpu.tensors["w"] = t;
  CHECK_THROWS_WITH_AS(taper::serialize_safetensors(on_gpu), doctest::Contains("tensor 'w': on cuda:0"),
                       SafetensorsError);
  t.impl()->storage->device = taper::Device::cpu();
}

TEST_CASE("safetensors: loading a missing file names the path") {
  TempDir dir;
  const std::string path = (dir.path / "absent.safetensors").string();
  CHECK_THROWS_WITH_AS(taper::load_safetensors(path), doctest::Contains((path + ": cannot open").c_str()),
                       SafetensorsError);
  CHECK_THROWS_WITH_AS(taper::load_safetensors(dir.path.string()),
                       doctest::Contains((dir.path.string() + ": cannot read").c_str()), SafetensorsError);
}

TEST_CASE("safetensors: saving into a nonexistent directory throws and leaves nothing") {
  TempDir dir;
  const fs::path missing = dir.path / "no_such_dir";
  const std::string path = (missing / "model.safetensors").string();
  CHECK_THROWS_WITH_AS(taper::save_safetensors(path, sample_file()), doctest::Contains(path.c_str()), FileWriteError);
  CHECK_FALSE(fs::exists(missing));
  CHECK(dir.entries().empty());
}

TEST_CASE("safetensors: saving over an existing file replaces it atomically") {
  TempDir dir;
  const fs::path path = dir.path / "model.safetensors";
  SafetensorsFile first;
  first.tensors["w"] = f32_tensor({1.0f, 2.0f}, Shape{2});
  taper::save_safetensors(path.string(), first);
  const std::string first_bytes = read_bytes(path);

  SafetensorsFile second = sample_file();
  taper::save_safetensors(path.string(), second);
  CHECK(read_bytes(path) == taper::serialize_safetensors(second));
  CHECK(taper::load_safetensors(path.string()).tensors.size() == second.tensors.size());
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});

  // A save that fails before the rename must leave the old file untouched.
  taper::save_safetensors(path.string(), first);
  SafetensorsFile broken;
  broken.tensors["w"] = Tensor();
  CHECK_THROWS_AS(taper::save_safetensors(path.string(), broken), SafetensorsError);
  CHECK(read_bytes(path) == first_bytes);
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
}

TEST_CASE("safetensors: a failed rename removes the temporary file") {
  TempDir dir;
  const fs::path target = dir.path / "is_a_directory";
  fs::create_directory(target);
  fs::create_directory(target / "child");  // non-empty, so rename cannot replace it
  CHECK_THROWS_WITH_AS(taper::save_safetensors(target.string(), sample_file()),
                       doctest::Contains((target.string() + ": cannot rename").c_str()), FileWriteError);
  CHECK(dir.entries() == std::vector<std::string>{"is_a_directory"});
}
