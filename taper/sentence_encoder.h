// all-MiniLM-L6-v2, the sentence encoder of text task descriptions (§3.5),
// run by our engine: WordPiece ids -> BERT -> mean over tokens -> unit
// vector, as sentence-transformers' encode() computes it.
//
// The model lives in <data root>/all-MiniLM-L6-v2 (`make text-model` puts
// it there): model.safetensors and vocab.txt, read directly, and
// config.json / sentence_bert_config.json for the sizes and the maximum
// sequence length (longer texts are truncated, as sentence-transformers does).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "data/wordpiece.h"
#include "engine/tensor.h"
#include "nn/bert.h"

namespace taper {

// The model's folder under `root` (default: the data root).
std::string text_model_dir(const std::string& root = "");
bool text_model_available(const std::string& root = "");

// Thrown when the model files are absent; the message says how to get them.
class TextModelMissing : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SentenceEncoder {
 public:
  // Throws TextModelMissing when dir lacks the files, DataError /
  // SafetensorsError naming the file when one is malformed or its weights do
  // not fit config.json.
  static SentenceEncoder load(const std::string& dir = text_model_dir());

  int64_t dim() const { return bert_.config().hidden; }
  int64_t max_tokens() const { return max_tokens_; }
  // [CLS] ids [SEP], truncated to max_tokens().
  std::vector<int64_t> token_ids(const std::string& text) const;
  // One unit vector per text, [N, dim()]. Texts are run in batches of
  // similar length (sorted), so padding costs little; padding is masked, so
  // the batching changes an embedding by float rounding at most.
  Tensor encode(const std::vector<std::string>& texts) const;

 private:
  SentenceEncoder(BertEncoder bert, TensorMap weights, WordPieceVocab vocab, int64_t max_tokens)
      : bert_(std::move(bert)), weights_(std::move(weights)), vocab_(std::move(vocab)), max_tokens_(max_tokens) {}
  Tensor encode_batch(const std::vector<std::vector<int64_t>>& ids) const;

  BertEncoder bert_;
  TensorMap weights_;
  WordPieceVocab vocab_;
  int64_t max_tokens_ = 256;
};

}  // namespace taper
