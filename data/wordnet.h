// The WordNet 3.0 noun hierarchy, read from data.noun of the standard
// database (wndb(5); Debian's wordnet-base installs it). The paper samples
// ImageNet tasks from WordNet-nearest classes; this gives the synsets, their
// glosses (free-language class descriptions) and hypernym path lengths.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taper {

inline constexpr const char* kWordNetDir = "/usr/share/wordnet";

struct Synset {
  uint32_t offset = 0;              // byte offset in data.noun: WordNet 3.0's synset id
  std::vector<std::string> lemmas;  // as written there: '_' for spaces, case kept
  std::string gloss;                // the definition, without the quoted examples
  std::vector<int32_t> hypernyms;   // indices into WordNet::synsets(); '@' and '@i' pointers
};

// A synset's ancestors (itself included at depth 0) as (synset index, fewest
// hypernym steps up to it), sorted by index.
using AncestorDepths = std::vector<std::pair<int32_t, int32_t>>;

// The standard WordNet path length: min over common ancestors c of
// depth_a(c) + depth_b(c); nullopt when there is none.
std::optional<int32_t> path_length(const AncestorDepths& a, const AncestorDepths& b);

// "02084071" for 2084071: the 8-digit form synset ids are written in.
std::string format_offset(uint32_t offset);

class WordNet {
 public:
  // Reads `dir`/data.noun. Throws DataError naming the file (and line) when
  // it is missing or malformed.
  explicit WordNet(const std::string& dir = kWordNetDir);

  const std::string& path() const { return path_; }
  const std::vector<Synset>& synsets() const { return synsets_; }
  const Synset& synset(int32_t index) const { return synsets_.at(index); }

  // The synset with this id: "02084071" or an ImageNet wnid "n02084071".
  std::optional<int32_t> find(std::string_view id) const;
  // The noun synsets listing `lemma` (case-insensitive, ' ' or '_'), in offset order.
  std::vector<int32_t> lookup(std::string_view lemma) const;

  AncestorDepths ancestors(int32_t index) const;
  std::optional<int32_t> distance(int32_t a, int32_t b) const;
  double path_similarity(int32_t a, int32_t b) const;  // 1 / (1 + distance); 0 when unrelated

 private:
  std::string path_;
  std::vector<Synset> synsets_;  // sorted by offset
};

}  // namespace taper
