#include "data/wordnet.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <stdexcept>

#include "data/file_io.h"

namespace taper {

namespace {

// The space-separated fields of one line, taken in order. Problems throw
// std::invalid_argument; the caller adds the file and line.
class Fields {
 public:
  explicit Fields(std::string_view text) : text_(text) {}

  std::string_view next(const char* what) {
    const size_t begin = text_.find_first_not_of(' ', pos_);
    if (begin == std::string_view::npos) throw std::invalid_argument(std::string("missing ") + what);
    pos_ = std::min(text_.find(' ', begin), text_.size());
    return text_.substr(begin, pos_ - begin);
  }

  uint32_t number(const char* what, int base = 10) {
    const std::string_view field = next(what);
    uint32_t value = 0;
    const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value, base);
    if (ec != std::errc() || end != field.data() + field.size()) {
      throw std::invalid_argument(std::string("bad ") + what + " '" + std::string(field) + "'");
    }
    return value;
  }

  bool done() const { return text_.find_first_not_of(' ', pos_) == std::string_view::npos; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

struct ParsedLine {
  Synset synset;
  std::vector<uint32_t> hypernym_offsets;  // resolved to indices once every synset is read
};

// The definition: the gloss up to its first quoted example, without the
// separating "; " and the file's trailing spaces.
std::string definition(std::string_view gloss) {
  gloss = gloss.substr(0, gloss.find('"'));
  const size_t begin = gloss.find_first_not_of(' ');
  const size_t end = gloss.find_last_not_of("; ");
  return begin == std::string_view::npos ? std::string() : std::string(gloss.substr(begin, end - begin + 1));
}

// "offset lex_filenum ss_type w_cnt [word lex_id]... p_cnt [symbol offset pos src/tgt]... | gloss"
ParsedLine parse_line(std::string_view line) {
  const size_t bar = line.find('|');
  if (bar == std::string_view::npos) throw std::invalid_argument("missing '|' before the gloss");
  Fields f(line.substr(0, bar));
  ParsedLine out;
  out.synset.offset = f.number("synset offset");
  f.next("lex_filenum");
  if (f.next("ss_type") != "n") throw std::invalid_argument("ss_type is not 'n' (not a noun synset)");
  const uint32_t words = f.number("w_cnt", 16);
  if (words == 0) throw std::invalid_argument("w_cnt is 0");
  for (uint32_t i = 0; i < words; ++i) {
    out.synset.lemmas.emplace_back(f.next("word"));
    f.next("lex_id");
  }
  const uint32_t pointers = f.number("p_cnt");
  for (uint32_t i = 0; i < pointers; ++i) {
    const std::string_view symbol = f.next("pointer symbol");
    const uint32_t target = f.number("pointer offset");
    const std::string_view pos = f.next("pointer pos");
    f.next("pointer source/target");
    if ((symbol == "@" || symbol == "@i") && pos == "n") out.hypernym_offsets.push_back(target);
  }
  if (!f.done()) throw std::invalid_argument("extra fields before the gloss (w_cnt or p_cnt wrong?)");
  out.synset.gloss = definition(line.substr(bar + 1));
  return out;
}

std::string lower_underscored(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string format_offset(uint32_t offset) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08u", offset);
  return buf;
}

std::optional<int32_t> path_length(const AncestorDepths& a, const AncestorDepths& b) {
  std::optional<int32_t> best;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i].first < b[j].first) {
      ++i;
    } else if (b[j].first < a[i].first) {
      ++j;
    } else {
      const int32_t d = a[i++].second + b[j++].second;
      if (!best || d < *best) best = d;
    }
  }
  return best;
}

WordNet::WordNet(const std::string& dir) : path_(join_path(dir, "data.noun")) {
  // One read of the ~15 MB file, parsed through views: loading stays well under a second.
  const std::vector<uint8_t> bytes = read_file_bytes(path_);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::vector<std::vector<uint32_t>> hypernym_offsets;
  std::vector<int64_t> line_of;
  const auto at_line = [&](int64_t line) { return path_ + ":" + std::to_string(line) + ": "; };
  int64_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty() || line.starts_with("  ")) continue;  // the licence header is indented by two spaces
    ParsedLine parsed;
    try {
      parsed = parse_line(line);
    } catch (const std::invalid_argument& e) {
      throw DataError(at_line(line_no) + e.what());
    }
    // find() binary-searches, so offsets must ascend as they do in the real file.
    if (!synsets_.empty() && parsed.synset.offset <= synsets_.back().offset) {
      throw DataError(at_line(line_no) + "synset offsets must increase");
    }
    synsets_.push_back(std::move(parsed.synset));
    hypernym_offsets.push_back(std::move(parsed.hypernym_offsets));
    line_of.push_back(line_no);
  }
  if (synsets_.empty()) throw DataError(path_ + ": no synsets");
  for (size_t i = 0; i < synsets_.size(); ++i) {
    for (uint32_t offset : hypernym_offsets[i]) {
      const std::optional<int32_t> h = find(format_offset(offset));
      if (!h) throw DataError(at_line(line_of[i]) + "hypernym " + format_offset(offset) + " is not a synset");
      synsets_[i].hypernyms.push_back(*h);
    }
  }
}

std::optional<int32_t> WordNet::find(std::string_view id) const {
  if (id.size() == 9 && id[0] == 'n') id.remove_prefix(1);
  uint32_t offset = 0;
  const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), offset);
  if (id.size() != 8 || ec != std::errc() || end != id.data() + id.size()) return std::nullopt;
  const auto it = std::lower_bound(synsets_.begin(), synsets_.end(), offset,
                                   [](const Synset& s, uint32_t o) { return s.offset < o; });
  if (it == synsets_.end() || it->offset != offset) return std::nullopt;
  return static_cast<int32_t>(it - synsets_.begin());
}

std::vector<int32_t> WordNet::lookup(std::string_view lemma) const {
  const std::string wanted = lower_underscored(lemma);
  std::vector<int32_t> out;
  for (size_t i = 0; i < synsets_.size(); ++i) {
    const auto& lemmas = synsets_[i].lemmas;
    if (std::any_of(lemmas.begin(), lemmas.end(), [&](const std::string& l) { return lower_underscored(l) == wanted; })) {
      out.push_back(static_cast<int32_t>(i));
    }
  }
  return out;
}

AncestorDepths WordNet::ancestors(int32_t index) const {
  AncestorDepths out{{index, 0}};
  // Breadth-first, with `out` as the queue: the first visit of a synset is its fewest steps.
  for (size_t i = 0; i < out.size(); ++i) {
    for (int32_t h : synsets_.at(out[i].first).hypernyms) {
      const bool seen = std::any_of(out.begin(), out.end(), [h](const auto& p) { return p.first == h; });
      if (!seen) out.emplace_back(h, out[i].second + 1);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<int32_t> WordNet::distance(int32_t a, int32_t b) const { return path_length(ancestors(a), ancestors(b)); }

double WordNet::path_similarity(int32_t a, int32_t b) const {
  const std::optional<int32_t> d = distance(a, b);
  return d ? 1.0 / (1.0 + *d) : 0.0;
}

}  // namespace taper
