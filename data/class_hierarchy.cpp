#include "data/class_hierarchy.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "data/file_io.h"

namespace taper {

namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out(1);
  for (char c : line) {
    if (c == '\t') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

// `where` is "file:line: " for the messages. The note may be left off with its tab.
ClassSynset parse_row(const std::string& line, const std::string& where) {
  std::vector<std::string> f = split_tabs(line);
  if (f.size() != 3 && f.size() != 4) throw DataError(where + "expected class<TAB>synset<TAB>lemma<TAB>note");
  f.resize(4);
  const bool eight_digits = f[1].size() == 8 && std::all_of(f[1].begin(), f[1].end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!eight_digits) throw DataError(where + "synset '" + f[1] + "' is not an 8-digit WordNet offset");
  if (f[0].empty() || f[2].empty()) throw DataError(where + "empty class or lemma");
  return {f[0], f[1], f[2], f[3]};
}

// The other classes of row `a`, nearest first; ties go to the lower index so
// that samplers drawing from a prefix are deterministic.
std::vector<int64_t> by_distance(const std::vector<int32_t>& distances, int64_t k, int64_t a) {
  std::vector<int64_t> out;
  for (int64_t b = 0; b < k; ++b) {
    if (b != a) out.push_back(b);
  }
  std::stable_sort(out.begin(), out.end(),
                   [&](int64_t x, int64_t y) { return distances[a * k + x] < distances[a * k + y]; });
  return out;
}

}  // namespace

std::string cifar100_wordnet_path() { return std::string(TAPER_SOURCE_DIR) + "/data/cifar100_wordnet.tsv"; }

std::vector<ClassSynset> read_class_synsets(const std::string& path, const std::vector<std::string>& class_names,
                                           bool skip_other_classes) {
  const std::vector<std::string> lines = read_text_lines(path);
  std::vector<std::optional<ClassSynset>> by_class(class_names.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty() || lines[i][0] == '#') continue;
    const std::string where = path + ":" + std::to_string(i + 1) + ": ";
    ClassSynset row = parse_row(lines[i], where);
    const auto it = std::find(class_names.begin(), class_names.end(), row.class_name);
    if (it == class_names.end()) {
      if (skip_other_classes) continue;
      throw DataError(where + "unknown class '" + row.class_name + "'");
    }
    std::optional<ClassSynset>& slot = by_class[it - class_names.begin()];
    if (slot) throw DataError(where + "class '" + row.class_name + "' listed twice");
    slot = std::move(row);
  }
  std::vector<ClassSynset> rows;
  for (size_t i = 0; i < class_names.size(); ++i) {
    if (!by_class[i]) throw DataError(path + ": no row for class '" + class_names[i] + "'");
    rows.push_back(std::move(*by_class[i]));
  }
  return rows;
}

ClassHierarchy make_class_hierarchy(const WordNet& wordnet, std::vector<std::string> class_names,
                                    const std::vector<std::string>& synset_ids) {
  if (class_names.size() != synset_ids.size()) throw std::invalid_argument("make_class_hierarchy: one synset id per class");
  ClassHierarchy h;
  h.class_names = std::move(class_names);
  std::vector<AncestorDepths> ancestors;
  for (size_t i = 0; i < synset_ids.size(); ++i) {
    const std::optional<int32_t> s = wordnet.find(synset_ids[i]);
    if (!s) throw DataError(wordnet.path() + ": class '" + h.class_names[i] + "': no noun synset '" + synset_ids[i] + "'");
    h.synsets.push_back(*s);
    h.glosses.push_back(wordnet.synset(*s).gloss);
    ancestors.push_back(wordnet.ancestors(*s));
  }
  const int64_t k = h.size();
  h.distances.resize(k * k);
  for (int64_t a = 0; a < k; ++a) {
    for (int64_t b = 0; b < k; ++b) {
      const std::optional<int32_t> d = path_length(ancestors[a], ancestors[b]);
      if (!d) throw DataError(wordnet.path() + ": classes '" + h.class_names[a] + "' and '" + h.class_names[b] + "' share no hypernym");
      h.distances[a * k + b] = *d;
    }
  }
  for (int64_t a = 0; a < k; ++a) h.nearest.push_back(by_distance(h.distances, k, a));
  return h;
}

ClassHierarchy make_class_hierarchy(const WordNet& wordnet, const std::vector<ClassSynset>& rows) {
  std::vector<std::string> names, ids;
  for (const ClassSynset& r : rows) {
    names.push_back(r.class_name);
    ids.push_back(r.synset_id);
  }
  return make_class_hierarchy(wordnet, std::move(names), ids);
}

}  // namespace taper
