// RunConfig from and to TOML. One list of keys per table (the *_keys
// templates) drives both the Reader and the Writer, so every key that can be
// read is also written, and the unknown-key check and its suggestions know
// exactly the keys that exist.
#include "taper/suggest.h"
#include "taper/config.h"
#include "taper/toml.h"


#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <sstream>
#include <utility>

#include "data/catalog.h"
#include "nn/resnet.h"

namespace taper {
namespace {

using Names = std::vector<std::string>;

// The allowed values of the enum-like strings (datasets come from data/catalog.h).
const Names kSamplers{"wordnet-nearest", "super-category", "domain", "uniform"};
const Names kDescriptions{"bow", "text", "definitions"};
const Names kStems{"cifar", "imagenet"};
const Names kMixers{"block", "single"};
const Names kStemMixers{"first-stage", "own"};
const Names kClassifierMixers{"last-stage", "own"};
const Names kBnStats{"mixed", "shared"};
const Names kShards{"classes", "domains"};
const Names kTraining{"three-stage", "naive"};
const Names kSchedules{"step", "cosine", "constant"};
const Names kAnyString{};  // free text, checked elsewhere (arch: by nn/)

// An allowed range for a float key, as shown in messages.
struct Range {
  const char* text;
  bool (*contains)(double);
};
constexpr Range kNonNegative{">= 0", [](double x) { return x >= 0; }};
constexpr Range kPositive{"> 0", [](double x) { return x > 0; }};
constexpr Range kFraction{"in [0, 1)", [](double x) { return x >= 0 && x < 1; }};

// Shortest text that reads back as the same double, always a TOML float.
std::string format(double x) {
  std::array<char, 32> buf;
  const auto end = std::to_chars(buf.data(), buf.data() + buf.size(), x).ptr;
  std::string s(buf.data(), end);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // "2" would read as an integer
  return s;
}
std::string format(int64_t x) { return std::to_string(x); }
std::string format(uint64_t x) { return std::to_string(x); }
std::string format(bool x) { return x ? "true" : "false"; }
std::string format(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);  // toml++ picks a quoting that reads back exactly
  return out.str();
}
std::string format(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + format(v[i]);
  return s + "]";
}

std::string join(const Names& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// A plausible slip: at most a third of the longer name differs, or one name
// extends the other (epoch / epochs, batch_size / batch).
bool plausible(const std::string& typed, const std::string& known, size_t distance) {
  return 3 * distance <= std::max(typed.size(), known.size()) || typed.starts_with(known) ||
         known.starts_with(typed);
}

// The known name closest to `name`, or "" when none is a plausible slip.
std::string closest(const std::string& name, const Names& known) {
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const auto& k : known) {
    const size_t d = edit_distance(name, k);
    if (d < best_distance && plausible(name, k, d)) best = k, best_distance = d;
  }
  return best;
}

// "found a string 'x'", "found a table".
std::string found(const toml::node& node) {
  std::ostringstream s;
  s << node.type();
  const std::string type = s.str();
  std::string text = std::string(type[0] == 'a' || type[0] == 'i' ? "found an " : "found a ") + type;
  if (node.is_value()) {
    std::ostringstream value;
    value << toml::node_view<const toml::node>(node);
    text += " " + value.str();
  }
  return text;
}

// Reads the keys of one table, checking types and ranges; remembers which keys
// exist so that finish() can reject the rest. Errors read
// "FILE:LINE: data.workers: must be >= 1, got 0".
class Reader {
 public:
  Reader(const toml::table* table, std::string prefix, const std::string& origin)
      : table_(table), prefix_(std::move(prefix)), origin_(origin) {}

  void field(const char* key, int64_t& out, int64_t min) {
    const toml::node* node = find(key);
    if (!node) return;
    if (!node->is_integer()) wrong_type(key, *node, "an integer");
    const int64_t v = node->as_integer()->get();
    if (v < min) fail(node, key, "must be >= " + format(min) + ", got " + format(v));
    out = v;
  }

  // Seeds: TOML integers, so non-negative int64 values.
  void field(const char* key, uint64_t& out) {
    int64_t v = -1;
    field(key, v, 0);
    if (v >= 0) out = static_cast<uint64_t>(v);
  }

  // Integers are accepted where a float is expected (lr = 1), not the reverse.
  void field(const char* key, double& out, Range range) {
    const toml::node* node = find(key);
    if (!node) return;
    if (!node->is_number()) wrong_type(key, *node, "a number");
    const double v = node->is_integer() ? static_cast<double>(node->as_integer()->get())
                                        : node->as_floating_point()->get();
    if (!std::isfinite(v) || !range.contains(v)) fail(node, key, std::string("must be ") + range.text + ", got " + format(v));
    out = v;
  }

  void field(const char* key, bool& out) {
    const toml::node* node = find(key);
    if (!node) return;
    if (!node->is_boolean()) wrong_type(key, *node, "a boolean");
    out = node->as_boolean()->get();
  }

  // `allowed` empty: any string. `note` explains values that are not there yet.
  void field(const char* key, std::string& out, const Names& allowed, const std::string& note = "") {
    const toml::node* node = find(key);
    if (!node) return;
    if (!node->is_string()) wrong_type(key, *node, "a string");
    const std::string v = node->as_string()->get();
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), v) == allowed.end())
      fail(node, key, "'" + v + "' is not one of: " + join(allowed) + note);
    out = v;
  }

  // The only array key: step-decay milestones, which must be increasing epochs.
  void field(const char* key, std::vector<int64_t>& out) {
    const toml::node* node = find(key);
    if (!node) return;
    if (!node->is_array()) wrong_type(key, *node, "an array of integers");
    std::vector<int64_t> v;
    for (const toml::node& element : *node->as_array()) {
      const std::string element_key = std::string(key) + "[" + std::to_string(v.size()) + "]";
      if (!element.is_integer()) wrong_type(element_key, element, "an integer");
      v.push_back(element.as_integer()->get());
    }
    const bool increasing = std::adjacent_find(v.begin(), v.end(), std::greater_equal<>()) == v.end();
    if (!increasing || (!v.empty() && v[0] < 0))
      fail(node, key, "must be strictly increasing epochs >= 0, got " + format(v));
    out = std::move(v);
  }

  // A sub-table; absent reads as empty.
  Reader section(const char* key) {
    const toml::node* node = find(key);
    if (node && !node->is_table()) wrong_type(key, *node, "a table");
    return Reader(node ? node->as_table() : nullptr, dotted(key), origin_);
  }

  // Rejects keys that no field() or section() asked for.
  void finish() const {
    if (!table_) return;
    for (auto&& [key, node] : *table_) {
      const std::string name(key.str());
      if (std::find(known_.begin(), known_.end(), name) != known_.end()) continue;
      const std::string suggestion = closest(name, known_);
      fail(&node, name, std::string("unknown ") + (node.is_table() ? "table" : "key") +
                            (suggestion.empty() ? "" : " (did you mean '" + dotted(suggestion) + "'?)"));
    }
  }

  // For checks across keys, after the fields are read.
  [[noreturn]] void reject(const std::string& key, const std::string& why) const {
    fail(table_ ? table_->get(key) : nullptr, key, why);
  }

 private:
  const toml::node* find(const char* key) {
    known_.emplace_back(key);
    return table_ ? table_->get(key) : nullptr;
  }

  std::string dotted(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }

  [[noreturn]] void fail(const toml::node* node, const std::string& key, const std::string& why) const {
    const std::string line = node ? ":" + std::to_string(node->source().begin.line) : "";
    throw ConfigError(origin_ + line + ": " + dotted(key) + ": " + why);
  }

  [[noreturn]] void wrong_type(const std::string& key, const toml::node& node, const char* expected) const {
    fail(&node, key, std::string("expected ") + expected + ", " + found(node));
  }

  const toml::table* table_;  // null: the table is absent
  std::string prefix_;
  const std::string& origin_;
  Names known_;
};

// Writes `key = value` lines in schema order; checks are for the Reader only.
class Writer {
 public:
  void header(const char* name) { out_ << "\n[" << name << "]\n"; }
  void comment(const char* text) { out_ << "# " << text << "\n"; }
  template <class T, class... Checks>
  void field(const char* key, const T& value, const Checks&...) {
    out_ << key << " = " << format(value) << "\n";
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

// The keys of each table. V is Reader or Writer; C is const for the Writer.
template <class V, class C>
void data_keys(V& v, C& d) {
  v.field("dataset", d.dataset, dataset_names());
  v.field("classes", d.classes, 0);
  v.field("train_per_class", d.train_per_class, 0);
  v.field("test_per_class", d.test_per_class, 0);
  v.field("augment", d.augment);
  v.field("image_size", d.image_size, 0);
  v.field("workers", d.workers, 1);
}

// Fixed-size datasets are used at their own size; a crop size would be ignored.
void check_image_size(const Reader& r, const DataConfig& d) {
  if (d.image_size > 0 && !variable_image_size(d.dataset))
    r.reject("image_size", d.dataset + " images are used at their own size; image_size applies to imagenet, "
                           "inaturalist2021 and domainnet (0 here)");
}

template <class V, class C>
void model_keys(V& v, C& m) {
  v.field("arch", m.arch, kAnyString);
  v.field("width", m.width, kPositive);
  v.field("stem", m.stem, kStems);
}

template <class V, class C>
void tasks_keys(V& v, C& t) {
  v.field("sampler", t.sampler, kSamplers);
  v.field("k", t.k, 1);
  v.field("k_min", t.k_min, 0);
  v.field("k_max", t.k_max, 0);
  v.field("description", t.description, kDescriptions);
  v.field("eval_seed", t.eval_seed);
}

template <class V, class C>
void taper_keys(V& v, C& t) {
  v.field("bases", t.bases, 1);
  v.field("mixers", t.mixers, kMixers);
  v.field("stem_mixer", t.stem_mixer, kStemMixers);
  v.field("classifier_mixer", t.classifier_mixer, kClassifierMixers);
  v.field("bn_stats", t.bn_stats, kBnStats);
  v.field("predictor_hidden", t.predictor_hidden, 1);
  v.field("groups", t.groups, 2);  // the mixer predictor's batch norm needs two tasks
  v.field("shards", t.shards, kShards);
  v.field("training", t.training, kTraining);
}

template <class V, class C>
void optim_keys(V& v, C& o) {
  v.field("batch", o.batch, 1);
  v.field("lr", o.lr, kNonNegative);
  v.field("momentum", o.momentum, kFraction);
  v.field("weight_decay", o.weight_decay, kNonNegative);
  v.field("schedule", o.schedule, kSchedules);
  v.field("decay_epochs", o.decay_epochs);
  v.field("gamma", o.gamma, kPositive);
  v.field("warmup_epochs", o.warmup_epochs, 0);
}

template <class V, class C>
void stage_keys(V& v, C& s) {
  v.field("epochs", s.epochs, 0);
  optim_keys(v, s.optim);
}

template <class C>
auto stages(C& c) {
  return std::array{std::pair{"stage1", &c.stage1}, std::pair{"stage2", &c.stage2},
                    std::pair{"stage3", &c.stage3}, std::pair{"baseline", &c.baseline},
                    std::pair{"finetune_average", &c.finetune_average}};
}

// nn/ decides which networks exist; building the architecture (no weights)
// is cheap and reuses its checks, e.g. that CIFAR-family nets need the cifar stem.
void check_model(const Reader& r, const ModelConfig& m) {
  try {
    ResNet{ResNetConfig{m.arch, m.stem, m.width, 1}};
  } catch (const std::invalid_argument& e) {
    r.reject("arch", e.what());
  }
}

// Both k_min and k_max 0: fixed tasks.k. Both >= 1: dynamic k, and tasks.k is
// ignored (still accepted, so that to_toml can write every key).
void check_k(const Reader& r, const TasksConfig& t) {
  if ((t.k_min == 0) != (t.k_max == 0))
    r.reject(t.k_min == 0 ? "k_max" : "k_min",
             "dynamic k needs both tasks.k_min and tasks.k_max >= 1 (both 0: fixed k = tasks.k), got k_min = " +
                 format(t.k_min) + ", k_max = " + format(t.k_max));
  if (t.k_min > t.k_max) r.reject("k_min", format(t.k_min) + " is above tasks.k_max = " + format(t.k_max));
}

template <class Fn>
void read_section(Reader& parent, const char* name, Fn&& read) {
  Reader r = parent.section(name);
  read(r);
  r.finish();
}

}  // namespace

RunConfig parse_config(const std::string& toml_text, const std::string& origin) {
  const toml::table root = parse_toml(toml_text, origin);
  RunConfig c;
  c.source = origin;
  Reader top(&root, "", origin);
  top.field("seed", c.seed);
  read_section(top, "data", [&](Reader& r) {
    data_keys(r, c.data);
    check_image_size(r, c.data);
  });
  read_section(top, "model", [&](Reader& r) {
    model_keys(r, c.model);
    check_model(r, c.model);
  });
  read_section(top, "tasks", [&](Reader& r) {
    tasks_keys(r, c.tasks);
    check_k(r, c.tasks);
  });
  read_section(top, "taper", [&](Reader& r) { taper_keys(r, c.taper); });
  OptimConfig shared;
  read_section(top, "optim", [&](Reader& r) { optim_keys(r, shared); });
  for (auto [name, stage] : stages(c)) {
    stage->optim = shared;
    StageConfig& target = *stage;  // a lambda may not capture a structured binding before clang 16
    read_section(top, name, [&](Reader& r) { stage_keys(r, target); });
  }
  top.finish();
  return c;
}

RunConfig load_config(const std::string& path) {
  // A directory opens fine and then reads as empty, i.e. as the default config.
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) throw ConfigError(path + ": is a directory, not a config file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read config file (" + std::strerror(errno) + ")");
  return parse_config(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()), path);
}

RunConfig data_and_network(const RunConfig& config) {
  RunConfig c;
  c.seed = config.seed;
  c.data = config.data;
  c.data.workers = DataConfig{}.workers;
  c.model = config.model;
  return c;
}

std::string to_toml(const RunConfig& c) {
  if (c.seed > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
      c.tasks.eval_seed > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    throw ConfigError("to_toml: seeds above 2^63 - 1 do not fit a TOML integer");
  Writer w;
  w.comment("The effective config of this run; taper/config.h documents every key.");
  w.field("seed", c.seed);
  w.header("data");
  data_keys(w, c.data);
  w.header("model");
  model_keys(w, c.model);
  w.header("tasks");
  tasks_keys(w, c.tasks);
  w.header("taper");
  taper_keys(w, c.taper);
  for (auto [name, stage] : stages(c)) {
    w.header(name);
    stage_keys(w, *stage);
  }
  return w.str();
}

}  // namespace taper
