// BERT's uncased WordPiece tokenizer, as all-MiniLM-L6-v2 (and
// bert-base-uncased) uses it: basic tokenization (drop control characters,
// normalise whitespace, space out CJK ideographs, NFD and drop non-spacing
// marks, lower-case, split off every punctuation character), then greedy
// longest-match-first WordPiece over each word ("##" marks a continuation;
// a word with no split, or over 100 characters, becomes [UNK]).
//
// Input is any byte string: a byte that does not begin a valid UTF-8
// sequence is read as U+FFFD, which basic tokenization drops, as it drops
// U+FFFD itself. Unicode properties come from utf8proc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace taper {

struct WordPieceVocab {
  std::unordered_map<std::string, int64_t> ids;  // token -> line index
  int64_t unk = -1, cls = -1, sep = -1, pad = -1;
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

// One token per line (vocab.txt); the id is the line index. Throws DataError
// naming `origin` on an empty vocabulary, a repeated token or a missing
// [UNK] / [CLS] / [SEP] / [PAD].
WordPieceVocab parse_wordpiece_vocab(const std::vector<std::string>& lines, const std::string& origin);
WordPieceVocab load_wordpiece_vocab(const std::string& path);

// The words and punctuation marks of basic tokenization, each UTF-8.
std::vector<std::string> basic_tokenize(std::string_view utf8);

// The token ids of a text, without [CLS] / [SEP]. Never throws on any input.
std::vector<int64_t> wordpiece_tokenize(const WordPieceVocab& vocab, std::string_view utf8);

}  // namespace taper
