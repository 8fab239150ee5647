// WordNet: the data.noun reader on Debian's wordnet-base and on tiny fake
// files, the committed CIFAR-100 -> synset mapping checked against WordNet,
// and the class distances the WordNet-nearest task sampler draws from.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tests/temp_dir.h"
#include "data/class_hierarchy.h"
#include "data/file_io.h"
#include "data/wordnet.h"

namespace fs = std::filesystem;
using taper::ClassHierarchy;
using taper::ClassSynset;
using taper::DataError;
using taper::WordNet;

namespace {

using taper::testing::TempDir;

// Loaded once: every case reads the same 82k synsets.
const WordNet& wordnet() {
  static const WordNet wn;
  return wn;
}

int32_t synset_of(const std::string& id) {
  const auto s = wordnet().find(id);
  REQUIRE_MESSAGE(s.has_value(), "no synset " << id);
  return *s;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "<no DataError>";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool has_lemma(const taper::Synset& s, std::string name) {
  auto lower = [](std::string x) {
    for (char& c : x) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return x;
  };
  name = lower(name);
  return std::any_of(s.lemmas.begin(), s.lemmas.end(), [&](const std::string& l) { return lower(l) == name; });
}
// The class column of the committed mapping, in file order.
std::vector<std::string> mapping_classes() {
  std::vector<std::string> names;
  for (const std::string& line : taper::read_text_lines(taper::cifar100_wordnet_path())) {
    if (!line.empty() && line[0] != '#') names.push_back(line.substr(0, line.find('\t')));
  }
  return names;
}

// CIFAR-100's fine_label_names.txt, or empty when no copy of the dataset is around.
std::vector<std::string> cifar100_fine_names() {
  std::vector<std::string> dirs = {std::string(TAPER_SOURCE_DIR) + "/../shared/data"};
  if (const char* root = std::getenv("TAPER_DATA")) dirs.emplace_back(root);
  dirs.emplace_back("data");
  for (const std::string& dir : dirs) {
    const std::string path = dir + "/cifar-100-binary/fine_label_names.txt";
    if (fs::exists(path)) return taper::read_text_lines(path);
  }
  return {};
}

std::vector<ClassSynset> cifar100_rows() { return taper::read_class_synsets(taper::cifar100_wordnet_path(), mapping_classes()); }

int64_t index_of(const ClassHierarchy& h, const std::string& name) {
  const auto it = std::find(h.class_names.begin(), h.class_names.end(), name);
  REQUIRE(it != h.class_names.end());
  return it - h.class_names.begin();
}

constexpr const char* kFakeHeader =
    "  1 This software and database is being provided to you, the LICENSEE, by  \n"
    "  2 Princeton University under the following license.  \n";

}  // namespace

TEST_CASE("wordnet: reads data.noun synsets, lemmas, glosses and hypernyms") {
  const WordNet& wn = wordnet();
  CHECK(wn.synsets().size() == 82115);
  const taper::Synset& apple = wn.synset(synset_of("07739125"));
  CHECK(apple.lemmas == std::vector<std::string>{"apple"});
  CHECK(contains(apple.gloss, "fruit"));
  std::vector<std::string> parents;
  for (int32_t h : apple.hypernyms) parents.push_back(wn.synset(h).lemmas[0]);
  CHECK(parents == std::vector<std::string>{"edible_fruit", "pome"});
  // The quoted examples and their separator are not part of the definition.
  CHECK(wn.synset(synset_of("09827683")).gloss == "a very young child (birth to 1 year) who has not yet begun to walk or talk");
  CHECK(synset_of("n02084071") == synset_of("02084071"));  // ImageNet wnids work as ids
  CHECK_FALSE(wn.find("2084071").has_value());
  CHECK_FALSE(wn.find("99999999").has_value());
  const std::vector<int32_t> apples = wn.lookup("Apple");
  CHECK(apples == std::vector<int32_t>{synset_of("07739125"), synset_of("12633994")});
  CHECK(wn.lookup("pickup truck") == wn.lookup("pickup_truck"));
  CHECK(taper::format_offset(1740) == "00001740");
}

TEST_CASE("wordnet: path lengths follow hypernyms and instance hypernyms") {
  const WordNet& wn = wordnet();
  const int32_t dog = synset_of("02084071"), cat = synset_of("02121620");
  CHECK(wn.distance(dog, dog) == 0);
  CHECK(wn.distance(dog, cat) == 4);  // NLTK: dog.n.01.path_similarity(cat.n.01) == 0.2
  CHECK(wn.path_similarity(dog, cat) == doctest::Approx(0.2));
  CHECK(wn.distance(synset_of("03721691"), synset_of("02732072")) == 1);  // Marineland @i aquarium
  // dog's shortest way up to the root: physical_entity, object, whole, living_thing, organism, animal, domestic_animal.
  const taper::AncestorDepths up = wn.ancestors(dog);
  const auto entity = std::find_if(up.begin(), up.end(), [&](const auto& p) { return p.first == synset_of("00001740"); });
  REQUIRE(entity != up.end());
  CHECK(entity->second == 8);
  CHECK(wn.distance(dog, entity->first) == 8);
}

TEST_CASE("wordnet: the CIFAR-100 mapping names existing synsets that list the class") {
  const std::vector<std::string> names = cifar100_fine_names();
  if (names.empty()) {
    MESSAGE("CIFAR-100 fine_label_names.txt not found; checking the mapping's own class list only");
  } else {
    CHECK(mapping_classes() == names);  // one row per class, in label order
  }
  const std::vector<ClassSynset> rows = cifar100_rows();
  REQUIRE(rows.size() == 100);
  for (const ClassSynset& row : rows) {
    CAPTURE(row.class_name);
    const auto s = wordnet().find(row.synset_id);
    REQUIRE(s.has_value());
    const taper::Synset& synset = wordnet().synset(*s);
    CHECK(has_lemma(synset, row.lemma));
    CHECK((has_lemma(synset, row.class_name) || !row.note.empty()));
  }
}

TEST_CASE("wordnet: CIFAR-100 class distances, neighbours and glosses") {
  const ClassHierarchy h = taper::make_class_hierarchy(wordnet(), cifar100_rows());
  REQUIRE(h.size() == 100);
  for (int64_t a = 0; a < h.size(); ++a) {
    CHECK(h.distance(a, a) == 0);
    for (int64_t b = 0; b < h.size(); ++b) REQUIRE(h.distance(a, b) == h.distance(b, a));
    const std::vector<int64_t>& near = h.nearest[a];
    REQUIRE(near.size() == 99);
    CHECK(std::find(near.begin(), near.end(), a) == near.end());
    for (size_t i = 1; i < near.size(); ++i) {
      const int32_t d0 = h.distance(a, near[i - 1]), d1 = h.distance(a, near[i]);
      REQUIRE((d0 < d1 || (d0 == d1 && near[i - 1] < near[i])));
    }
  }
  auto d = [&](const char* x, const char* y) { return h.distance(index_of(h, x), index_of(h, y)); };
  CHECK(d("oak_tree", "maple_tree") < d("oak_tree", "rocket"));
  CHECK(d("leopard", "tiger") < d("leopard", "bicycle"));
  CHECK(d("leopard", "tiger") == 2);  // both are big cats
  CHECK(d("leopard", "bicycle") <= d("leopard", "tiger") + d("tiger", "bicycle"));
  CHECK(d("apple", "pear") < d("apple", "tractor"));
  CHECK(d("bus", "streetcar") < d("bus", "whale"));
  const int64_t leopard = index_of(h, "leopard");
  CHECK(h.class_names[h.nearest[leopard][0]] == "lion");  // lion and tiger tie at 2; lion has the lower label
  CHECK(h.class_names[h.nearest[leopard][1]] == "tiger");
  CHECK(contains(h.glosses[index_of(h, "apple")], "fruit"));
  for (const std::string& gloss : h.glosses) CHECK_FALSE(gloss.empty());
}

TEST_CASE("wordnet: a small fake data.noun parses; path lengths on it") {
  TempDir dir;
  dir.write("data.noun", std::string(kFakeHeader) +
                             "00000010 03 n 01 entity 0 000 | the root  \n"
                             "00000020 03 n 02 animal 0 beast 0 001 @ 00000010 n 0000 | a living thing; \"a quoted example\"  \n"
                             "00000030 03 n 01 dog 0 002 @ 00000020 n 0000 ~ 00000040 n 0000 | barks  \n"
                             "00000040 03 n 01 Rex 0 001 @i 00000030 n 0000 | a famous dog  \n");
  const WordNet wn(dir.path.string());
  REQUIRE(wn.synsets().size() == 4);
  CHECK(wn.synset(1).gloss == "a living thing");
  CHECK(wn.synset(1).lemmas == std::vector<std::string>{"animal", "beast"});
  CHECK(wn.synset(2).hypernyms == std::vector<int32_t>{1});  // '~' (hyponym) is not followed
  CHECK(wn.distance(3, 1) == 2);
  CHECK(wn.lookup("rex") == std::vector<int32_t>{3});
}

TEST_CASE("wordnet: malformed data.noun lines name the file and line") {
  const std::string good = "00000010 03 n 01 entity 0 000 | the root\n";
  const struct {
    const char* name;
    std::string line;
    const char* expect;
  } cases[] = {
      {"no gloss bar", "00000020 03 n 01 dog 0 000 the dog\n", "missing '|'"},
      {"bad offset", "0000x020 03 n 01 dog 0 000 | d\n", "bad synset offset"},
      {"not a noun", "00000020 03 v 01 dog 0 000 | d\n", "ss_type"},
      {"bad w_cnt", "00000020 03 n 0g dog 0 000 | d\n", "bad w_cnt"},
      {"too few words", "00000020 03 n 03 dog 0 000 | d\n", "missing lex_id"},
      {"p_cnt too large", "00000020 03 n 01 dog 0 002 @ 00000010 n 0000 | d\n", "missing pointer symbol"},
      {"extra fields", "00000020 03 n 01 dog 0 000 junk | d\n", "extra fields"},
      {"offsets out of order", "00000005 03 n 01 dog 0 000 | d\n", "offsets must increase"},
      {"dangling hypernym", "00000020 03 n 01 dog 0 001 @ 00000015 n 0000 | d\n", "hypernym 00000015"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    TempDir dir;
    const std::string path = dir.write("data.noun", std::string(kFakeHeader) + good + c.line);
    const std::string msg = error_of([&] { WordNet wn(dir.path.string()); });
    CHECK(contains(msg, path + ":4:"));
    CHECK(contains(msg, c.expect));
  }
  TempDir empty;
  CHECK(contains(error_of([&] { WordNet wn(empty.path.string()); }), (empty.path / "data.noun").string()));
}

TEST_CASE("wordnet: malformed class mappings name the file and line") {
  const std::vector<std::string> names = {"apple", "mouse"};
  const std::string apple = "apple\t07739125\tapple\tthe fruit\n";
  const struct {
    const char* name;
    std::string text;
    const char* expect;
  } cases[] = {
      {"unknown class", apple + "aple\t02330245\tmouse\t\n", ":3: unknown class 'aple'"},
      {"listed twice", apple + "apple\t07739125\tapple\n", ":3: class 'apple' listed twice"},
      {"no row", apple, "no row for class 'mouse'"},
      {"short offset", apple + "mouse\t2330245\tmouse\t\n", ":3: synset '2330245'"},
      {"too few columns", apple + "mouse\t02330245\n", ":3: expected class"},
      {"too many columns", apple + "mouse\t02330245\tmouse\tnote\textra\n", ":3: expected class"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    TempDir dir;
    const std::string path = dir.write("map.tsv", "# header\n" + c.text);
    CHECK(contains(error_of([&] { taper::read_class_synsets(path, names); }), path));
    CHECK(contains(error_of([&] { taper::read_class_synsets(path, names); }), c.expect));
  }
  TempDir dir;
  const std::string path = dir.write("map.tsv", apple + "mouse\t99999999\tmouse\n");
  const std::vector<ClassSynset> rows = taper::read_class_synsets(path, names);
  CHECK(rows[1].note.empty());
  CHECK(contains(error_of([&] { taper::make_class_hierarchy(wordnet(), rows); }), "class 'mouse': no noun synset '99999999'"));
}
