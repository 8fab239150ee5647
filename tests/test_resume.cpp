// Resume equivalence (issue 4, items 4 and 7): `taper train` killed with
// SIGKILL at several points and continued with --resume ends with the same
// checkpoints, tensor for tensor and bit for bit, the same epoch log and the
// same eval.json as an uninterrupted run. Also the refusals that protect a
// run directory, and `taper personalize` / `taper predict` on the result.
//
// Runs the product binary next to this test binary (tests/child_process.h)
// as a subprocess, on tests/configs/tiny_resume.toml and the real CIFAR-100
// (skipped with a message when either is missing).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "data/image.h"
#include "engine/safetensors.h"
#include "tests/child_process.h"
#include "tests/temp_dir.h"

using namespace taper;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

using taper::testing::TempDir;
using namespace taper::testing;

// The stage checkpoints of a run directory, by file name.
std::set<std::string> checkpoints(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 12 && n.substr(n.size() - 12) == ".safetensors") names.insert(n);
  }
  return names;
}

std::vector<std::string> stray_files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (contains(n, ".tmp")) names.push_back(n);
  }
  return names;
}

// "stage1 1/2, stage2.shard00 1/1, ...": each checkpoint's epochs done.
std::string describe_checkpoints(const std::string& dir) {
  std::string out;
  for (const std::string& name : checkpoints(dir)) {
    std::string epochs = "?";
    try {
      epochs = load_safetensors(dir + "/" + name).metadata.at("epochs_done");
    } catch (const std::exception&) {
    }
    out += (out.empty() ? "" : ", ") + name.substr(0, name.size() - 12) + " " + epochs;
  }
  return out.empty() ? "none" : out;
}

// Every tensor (dtype, shape, bytes) and the metadata of two checkpoints agree.
void check_same_checkpoint(const std::string& a, const std::string& b) {
  CAPTURE(b);
  const SafetensorsFile fa = load_safetensors(a), fb = load_safetensors(b);
  CHECK(fa.metadata == fb.metadata);
  REQUIRE(fa.tensors.size() == fb.tensors.size());
  int differing = 0;
  for (const auto& [name, ta] : fa.tensors) {
    auto it = fb.tensors.find(name);
    REQUIRE_MESSAGE(it != fb.tensors.end(), "tensor " << name << " missing");
    const Tensor& tb = it->second;
    const bool same = ta.dtype() == tb.dtype() && ta.shape() == tb.shape() &&
                      std::memcmp(ta.data_ptr(), tb.data_ptr(), ta.nbytes()) == 0;
    if (!same && differing++ < 3) MESSAGE("tensor " << name << " differs");
    CHECK(same);
  }
}

// (stage, epoch, loss, train_accuracy, lr) of every log line: timing aside, deterministic.
std::vector<std::string> log_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    j.erase("seconds");
    j.erase("images_per_second");
    lines.push_back(j.dump());
  }
  return lines;
}

// prefix + n (a helper: GCC 12 warns falsely on "literal" + std::to_string(n)).
std::string numbered(std::string prefix, int n) {
  prefix += std::to_string(n);
  return prefix;
}


}  // namespace

TEST_CASE("taper resume: killed and resumed runs end bit-identical to an uninterrupted one") {
  const std::string bin = taper_binary(), data = cifar_root();
  if (bin.empty()) {
    MESSAGE("skipped: no taper binary beside this test binary (make build/taper)");
    return;
  }
  if (data.empty()) {
    MESSAGE("skipped: no cifar-100-binary under $TAPER_DATA, ./data or ../shared/data (make data)");
    return;
  }
  TempDir dir;
  const std::string cfg = config_path("tiny_resume.toml"), a = dir / "A", b = dir / "B";

  // (a) Uninterrupted.
  {
    Child run({bin, "train", cfg, "--out", a}, data, dir / "a");
    const int code = run.wait();
    REQUIRE_MESSAGE(code == 0, "taper train failed:\n" << run.err());
    MESSAGE("uninterrupted run: " << run.seconds() << " s");
  }
  const std::set<std::string> files = checkpoints(a);
  CHECK(files == std::set<std::string>{"baseline.safetensors", "stage1.safetensors", "stage2.shard00.safetensors",
                                       "stage2.shard01.safetensors", "stage3.safetensors"});

  // (b) Interrupted, with SIGKILL at points chosen by what the run has done
  // (its checkpoints and the finished-epoch progress lines on its stderr),
  // since loading the data takes longer than this tiny training:
  //   - right after stage 1's first epoch checkpoint appears (stage 1 has
  //     two epochs: momentum, schedule and loader order resume mid-stage);
  //   - as stage 1's second epoch finishes (before or while it is saved);
  //   - 30% into stage 2's second shard;
  //   - 60% into stage 3's second epoch (bases, mixed BN statistics, predictor);
  //   - halfway through the baseline's second epoch;
  //   - once training has ended (the last checkpoint or the evaluation).
  // Fractions are of that epoch's duration in the uninterrupted run's log.
  // Then resumed to the end.
  std::map<std::string, double> epoch_seconds;  // "stage3 epoch 2" -> seconds
  {
    std::ifstream log(a + "/log.jsonl");
    for (std::string line; std::getline(log, line);) {
      const nlohmann::json j = nlohmann::json::parse(line);
      epoch_seconds[j.at("stage").get<std::string>() + " epoch " + std::to_string(j.at("epoch").get<int>())] =
          j.at("seconds").get<double>();
    }
  }
  struct Kill {
    std::string after;     // a checkpoint file ("*.safetensors") or the label of a finished progress line
    std::string next;      // the epoch that follows ("" for none)
    double fraction = 0;   // of the next epoch's duration, waited after `after`
  };
  const std::vector<Kill> kills_at = {{"stage1.safetensors", "", 0.0},
                                      {"stage1 epoch 2/2", "", 0.0},
                                      {"stage2.shard00 epoch 1/1", "stage2.shard01 epoch 1", 0.3},
                                      {"stage3 epoch 1/2", "stage3 epoch 2", 0.6},
                                      {"baseline epoch 1/2", "baseline epoch 2", 0.5},
                                      {"baseline epoch 2/2", "", 0.0}};
  int kills = 0, cycle = 0;
  for (const Kill& k : kills_at) {
    std::vector<std::string> args{bin, "train", cfg, "--out", b};
    if (cycle > 0) args.push_back("--resume");
    Child run(args, data, dir / numbered("b", cycle++));
    const std::string finished_line = k.after + " [" + std::string(24, '#') + "]";
    auto reached = [&] {
      if (contains(k.after, ".safetensors")) return fs::exists(b + "/" + k.after);
      return contains(run.err(), finished_line);
    };
    while (run.running() && !reached() && run.seconds() < 120) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const auto event = Clock::now();
    const double delay = k.next.empty() ? 0.0 : k.fraction * epoch_seconds.at(k.next);
    while (run.running() && std::chrono::duration<double>(Clock::now() - event).count() < delay) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const bool killed = run.kill();
    kills += killed;
    MESSAGE("run " << cycle - 1 << (killed ? std::string(" killed") : std::string(" finished")) << " after "
                   << run.seconds() << " s (" << k.after << " + " << delay
                   << " s); checkpoints then: " << describe_checkpoints(b));
    if (!killed) REQUIRE_MESSAGE(run.wait() == 0, "taper train failed:\n" << run.err());
  }
  {
    Child run({bin, "train", cfg, "--out", b, "--resume"}, data, dir / numbered("b", cycle++));
    const int code = run.wait();
    REQUIRE_MESSAGE(code == 0, "final resume failed:\n" << run.err());
  }
  CHECK(kills >= 4);

  // Same files, same tensors, same metadata, same log, same evaluation.
  CHECK(checkpoints(b) == files);
  for (const std::string& f : files) check_same_checkpoint(a + "/" + f, b + "/" + f);
  CHECK(read_bytes(b + "/config.toml") == read_bytes(a + "/config.toml"));
  CHECK(read_bytes(b + "/eval.json") == read_bytes(a + "/eval.json"));
  const std::vector<std::string> log_a = log_lines(a + "/log.jsonl"), log_b = log_lines(b + "/log.jsonl");
  if (log_a != log_b) {
    std::string both = "uninterrupted:\n";
    for (const auto& l : log_a) both += "  " + l + "\n";
    both += "killed and resumed:\n";
    for (const auto& l : log_b) both += "  " + l + "\n";
    MESSAGE(both);
  }
  CHECK(log_b == log_a);
  const std::vector<std::string> stray = stray_files(b);
  for (const auto& s : stray) MESSAGE("left behind by a killed run: " << s);

  // Training into an existing run without --resume is refused and changes nothing.
  const std::string stage3 = read_bytes(a + "/stage3.safetensors"), eval = read_bytes(a + "/eval.json");
  {
    Child run({bin, "train", cfg, "--out", a}, data, dir / "again");
    CHECK(run.wait() != 0);
    CAPTURE(run.err());
    CHECK(contains(run.err(), "--resume"));
    CHECK(contains(run.err(), a));
  }
  // Resuming with a different config is refused and changes nothing.
  {
    std::string text = read_bytes(cfg);
    const size_t at = text.find("seed = 7");
    REQUIRE(at != std::string::npos);
    text.replace(at, 8, "seed = 8");
    std::ofstream(dir / "other.toml") << text;
    Child run({bin, "train", dir / "other.toml", "--out", a, "--resume"}, data, dir / "other");
    CHECK(run.wait() != 0);
    CAPTURE(run.err());
    CHECK(contains(run.err(), "different config"));
  }
  CHECK(read_bytes(a + "/stage3.safetensors") == stage3);
  CHECK(read_bytes(a + "/eval.json") == eval);

  // taper personalize + predict on the finished run (a 40x48 PNG: resized to 32x32).
  Image image(40, 48);
  for (int64_t y = 0; y < image.height; ++y) {
    for (int64_t x = 0; x < image.width; ++x) {
      uint8_t* p = image.at(y, x);
      p[0] = static_cast<uint8_t>(5 * x);
      p[1] = static_cast<uint8_t>(6 * y);
      p[2] = static_cast<uint8_t>(128 + x - y);
    }
  }
  write_png(dir / "image.png", image);
  const std::string model = dir / "model.safetensors";
  {
    Child run({bin, "personalize", a, "--classes", "apple, baby", "--out", model}, data, dir / "personalize");
    REQUIRE_MESSAGE(run.wait() == 0, run.err());
    CHECK(contains(run.out(), "block 0:"));
    CHECK(contains(run.out(), "parameters"));
  }
  {
    Child run({bin, "predict", model, dir / "image.png", dir / "image.png"}, data, dir / "predict");
    REQUIRE_MESSAGE(run.wait() == 0, run.err());
    const std::string out = run.out();
    CAPTURE(out);
    CHECK(std::count(out.begin(), out.end(), '\n') == 2);
    CHECK((contains(out, "image.png: apple (") || contains(out, "image.png: baby (")));
  }
  {
    Child run({bin, "personalize", a, "--classes", "appel,baby", "--out", dir / "x.safetensors"}, data, dir / "unknown");
    CHECK(run.wait() != 0);
    CAPTURE(run.err());
    CHECK(contains(run.err(), "'appel'"));
    CHECK(contains(run.err(), "apple"));
    CHECK_FALSE(fs::exists(dir / "x.safetensors"));
  }
  {
    const std::string bytes = read_bytes(model);
    std::ofstream(dir / "cut.safetensors", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    Child run({bin, "predict", dir / "cut.safetensors", dir / "image.png"}, data, dir / "cut");
    CHECK(run.wait() != 0);
    CAPTURE(run.err());
    CHECK(contains(run.err(), dir / "cut.safetensors"));
  }
}
