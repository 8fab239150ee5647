// libFuzzer target: the WordPiece tokenizer (data/wordpiece.cpp) and its
// vocabulary file. The first byte picks what the rest is:
//   even: a text, tokenized with a fixed vocabulary (letters, "##" pieces,
//         words, digits, punctuation, a CJK ideograph, an accented letter):
//         must never throw; every id is in the vocabulary; basic tokens are
//         non-empty, hold no ASCII whitespace or control bytes, and a second
//         call gives the same ids.
//   odd:  a vocab.txt, loaded from a file as the text encoder loads it: only
//         DataError; a vocabulary that loads tokenizes a fixed text to ids
//         in range.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "data/file_io.h"
#include "data/wordpiece.h"
#include "fuzz/scratch_dir.h"

using namespace taper;

namespace {

WordPieceVocab fixed_vocab() {
  std::vector<std::string> lines = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "photo", "of", "the", "sketch", "un",
                                    "##aff", "##able", "##ing", "\xe4\xb8\xad", "cafe"};
  for (char c = 'a'; c <= 'z'; ++c) lines.push_back(std::string(1, c)), lines.push_back("##" + std::string(1, c));
  for (char c = '0'; c <= '9'; ++c) lines.push_back(std::string(1, c));
  for (const char* p : {".", ",", "!", "?", "-", "'", "(", ")", "\"", "$"}) lines.push_back(p);
  return parse_wordpiece_vocab(lines, "fuzz vocabulary");
}

void check_ids(const std::vector<int64_t>& ids, const WordPieceVocab& vocab) {
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab.size()) std::abort();
  }
}

void fuzz_text(std::string_view text) {
  static const WordPieceVocab vocab = fixed_vocab();
  const std::vector<int64_t> ids = wordpiece_tokenize(vocab, text);
  check_ids(ids, vocab);
  if (wordpiece_tokenize(vocab, text) != ids) std::abort();
  for (const std::string& token : basic_tokenize(text)) {
    if (token.empty()) std::abort();
    for (unsigned char c : token) {
      if (c < 0x20 || c == 0x7f || c == ' ') std::abort();
    }
  }
}

void fuzz_vocab_file(const uint8_t* data, size_t size) {
  const std::string path = fuzz::scratch_path("vocab.txt");
  write_file_bytes(path, std::vector<uint8_t>(data, data + size));
  try {
    const WordPieceVocab vocab = load_wordpiece_vocab(path);
    check_ids(wordpiece_tokenize(vocab, "A photo of the unaffable caf\xc3\xa9, \xe4\xb8\xad 42!"), vocab);
  } catch (const DataError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    fuzz_text(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  } else {
    fuzz_vocab_file(data + 1, size - 1);
  }
  return 0;
}
