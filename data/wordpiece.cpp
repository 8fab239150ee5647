#include "data/wordpiece.h"

#include <utf8proc.h>

#include "data/file_io.h"
#include "data/image.h"

namespace taper {

namespace {

constexpr size_t kMaxWordChars = 100;  // BERT's max_input_chars_per_word

bool is_whitespace(utf8proc_int32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}

// Control and other "C" characters, except the whitespace ones.
bool is_control(utf8proc_int32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS:
      return true;
    default:
      return false;
  }
}

// ASCII symbols count as punctuation too ('$', '+', '^', '`', ...), as in BERT.
bool is_punctuation(utf8proc_int32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  const utf8proc_category_t cat = utf8proc_category(c);
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

// The CJK Unified Ideographs blocks (not Hiragana, Katakana or Hangul).
bool is_cjk(utf8proc_int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::vector<utf8proc_int32_t> decode(std::string_view s) {
  std::vector<utf8proc_int32_t> out;
  out.reserve(s.size());
  auto p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t c;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &c);
    if (n <= 0) {  // invalid byte: U+FFFD, skip one byte
      c = 0xFFFD;
      n = 1;
    }
    out.push_back(c);
    p += n;
    left -= n;
  }
  return out;
}

void append_utf8(std::string& s, utf8proc_int32_t c) {
  utf8proc_uint8_t buf[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(c, buf);
  s.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

// NFD of one code point, without its non-spacing marks, lower-cased.
void append_normalised(std::vector<utf8proc_int32_t>& out, utf8proc_int32_t c) {
  utf8proc_int32_t parts[32];
  int last = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(c, parts, 32, UTF8PROC_DECOMPOSE, &last);
  if (n <= 0 || n > 32) {
    out.push_back(utf8proc_tolower(c));
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) {
    if (utf8proc_category(parts[i]) != UTF8PROC_CATEGORY_MN) out.push_back(utf8proc_tolower(parts[i]));
  }
}

// The words of one text: whitespace separates them and every punctuation
// mark and CJK ideograph is a word of its own.
std::vector<std::vector<utf8proc_int32_t>> split_words(std::string_view utf8) {
  std::vector<std::vector<utf8proc_int32_t>> words;
  std::vector<utf8proc_int32_t> word, normalised;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (utf8proc_int32_t c : decode(utf8)) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      flush();
      continue;
    }
    normalised.clear();
    append_normalised(normalised, c);
    for (utf8proc_int32_t n : normalised) {
      if (is_punctuation(n) || is_cjk(n)) {
        flush();
        words.push_back({n});
      } else {
        word.push_back(n);
      }
    }
  }
  flush();
  return words;
}

std::string encode(const std::vector<utf8proc_int32_t>& cps, size_t begin, size_t end) {
  std::string s;
  for (size_t i = begin; i < end; ++i) append_utf8(s, cps[i]);
  return s;
}

// Greedy longest match; the whole word is [UNK] when a piece has no match.
void wordpiece_word(const WordPieceVocab& vocab, const std::vector<utf8proc_int32_t>& word,
                    std::vector<int64_t>& out) {
  if (word.size() > kMaxWordChars) {
    out.push_back(vocab.unk);
    return;
  }
  std::vector<int64_t> pieces;
  for (size_t start = 0; start < word.size();) {
    int64_t id = -1;
    size_t end = word.size();
    for (; end > start; --end) {
      auto it = vocab.ids.find((start > 0 ? "##" : "") + encode(word, start, end));
      if (it != vocab.ids.end()) {
        id = it->second;
        break;
      }
    }
    if (id < 0) {
      out.push_back(vocab.unk);
      return;
    }
    pieces.push_back(id);
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

}  // namespace

WordPieceVocab parse_wordpiece_vocab(const std::vector<std::string>& lines, const std::string& origin) {
  WordPieceVocab v;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!v.ids.emplace(lines[i], static_cast<int64_t>(i)).second) {
      throw DataError(origin + ": line " + std::to_string(i + 1) + " repeats the token \"" + lines[i] + "\"");
    }
  }
  auto special = [&](const char* token) {
    auto it = v.ids.find(token);
    if (it == v.ids.end()) {
      throw DataError(origin + ": not a BERT vocabulary (no " + token + " token among " +
                      std::to_string(lines.size()) + " lines)");
    }
    return it->second;
  };
  v.unk = special("[UNK]");
  v.cls = special("[CLS]");
  v.sep = special("[SEP]");
  v.pad = special("[PAD]");
  return v;
}

WordPieceVocab load_wordpiece_vocab(const std::string& path) { return parse_wordpiece_vocab(read_text_lines(path), path); }

std::vector<std::string> basic_tokenize(std::string_view utf8) {
  std::vector<std::string> out;
  for (const auto& word : split_words(utf8)) out.push_back(encode(word, 0, word.size()));
  return out;
}

std::vector<int64_t> wordpiece_tokenize(const WordPieceVocab& vocab, std::string_view utf8) {
  std::vector<int64_t> ids;
  for (const auto& word : split_words(utf8)) wordpiece_word(vocab, word, ids);
  return ids;
}

}  // namespace taper
