// Classes placed in the WordNet noun hierarchy: the committed CIFAR-100 ->
// WordNet 3.0 mapping, the class-to-class path lengths the WordNet-nearest
// task sampler draws from, and each class's gloss for text descriptions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/wordnet.h"

namespace taper {

// One row of a class -> synset mapping file such as data/cifar100_wordnet.tsv.
struct ClassSynset {
  std::string class_name;
  std::string synset_id;  // 8-digit WordNet 3.0 noun offset
  std::string lemma;      // the synset's lemma matching the class
  std::string note;       // why, where the choice is not the obvious one; may be empty
};

// data/cifar100_wordnet.tsv in this source tree.
std::string cifar100_wordnet_path();

// Reads a mapping (`class<TAB>synset<TAB>lemma<TAB>note`, '#' comment lines)
// and returns its rows in the order of `class_names`. Throws DataError naming
// the file (and line) on a malformed row, a class not in `class_names`, a
// class listed twice or one without a row.
// skip_other_classes: rows of classes not in `class_names` are ignored (a
// run that keeps only some of the dataset's classes).
std::vector<ClassSynset> read_class_synsets(const std::string& path, const std::vector<std::string>& class_names,
                                           bool skip_other_classes = false);

struct ClassHierarchy {
  std::vector<std::string> class_names;
  std::vector<int32_t> synsets;             // index into WordNet::synsets(), per class
  std::vector<std::string> glosses;         // per class
  std::vector<int32_t> distances;           // k x k row-major WordNet path lengths
  std::vector<std::vector<int64_t>> nearest;  // per class: the other classes by distance, ties by index

  int64_t size() const { return static_cast<int64_t>(class_names.size()); }
  int32_t distance(int64_t a, int64_t b) const { return distances.at(a * size() + b); }
};

// `synset_ids` are 8-digit offsets or ImageNet wnids ("n02084071"), one per
// class. Throws DataError when an id is not a noun synset of `wordnet` or two
// classes share no ancestor.
ClassHierarchy make_class_hierarchy(const WordNet& wordnet, std::vector<std::string> class_names,
                                    const std::vector<std::string>& synset_ids);
ClassHierarchy make_class_hierarchy(const WordNet& wordnet, const std::vector<ClassSynset>& rows);

}  // namespace taper
