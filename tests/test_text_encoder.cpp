// The sentence encoder: the WordPiece tokenizer on a vocabulary made here,
// a finite-difference check through a tiny BERT, and all-MiniLM-L6-v2
// against sentence-transformers (tests/reference/text_fixture.safetensors:
// Hugging Face's token ids and embeddings). The model tests skip with a
// message when `make text-model` has not been run.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "data/image.h"
#include "data/wordpiece.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "nn/bert.h"
#include "taper/sentence_encoder.h"
#include "tests/gradcheck.h"
#include "tests/reference_fixture.h"
#include "tests/temp_dir.h"

using namespace taper;

namespace {

WordPieceVocab small_vocab() {
  return parse_wordpiece_vocab({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "aff", "cafe", ",", "!",
                                "北", "京", "hello", "##s", "s"},
                               "test vocab");
}

std::vector<std::string> fixture_texts(const char* key) {
  const auto& meta = taper::testing::reference_file("text_fixture.safetensors").metadata;
  return nlohmann::json::parse(meta.at(key)).get<std::vector<std::string>>();
}

double cosine(const float* a, const float* b, int64_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

}  // namespace

TEST_CASE("wordpiece: basic tokenization lower-cases, strips accents and splits punctuation") {
  CHECK(basic_tokenize("Hello,World!") == std::vector<std::string>{"hello", ",", "world", "!"});
  CHECK(basic_tokenize("  Café\tNAÏVE\n") == std::vector<std::string>{"cafe", "naive"});
  CHECK(basic_tokenize("北京 ok") == std::vector<std::string>{"北", "京", "ok"});
  CHECK(basic_tokenize("a\x07" "b\xe2\x80\x8b" "c") == std::vector<std::string>{"abc"});  // control, zero-width
  CHECK(basic_tokenize("x$y") == std::vector<std::string>{"x", "$", "y"});  // ASCII symbols split like BERT's
  CHECK(basic_tokenize("").empty());
}

TEST_CASE("wordpiece: greedy longest match, continuations and unknown words") {
  const WordPieceVocab v = small_vocab();
  CHECK(wordpiece_tokenize(v, "unaffable") == std::vector<int64_t>{4, 5, 6});
  CHECK(wordpiece_tokenize(v, "Hellos, CAFÉ!") == std::vector<int64_t>{13, 14, 9, 8, 10});
  CHECK(wordpiece_tokenize(v, "unknown aff") == std::vector<int64_t>{1, 7});  // no split of "unknown": [UNK]
  CHECK(wordpiece_tokenize(v, std::string(101, 's')) == std::vector<int64_t>{1});  // over 100 characters
  CHECK(wordpiece_tokenize(v, "北京") == std::vector<int64_t>{11, 12});
}

TEST_CASE("wordpiece: any byte string tokenizes without throwing") {
  const WordPieceVocab v = small_vocab();
  CHECK(wordpiece_tokenize(v, std::string("\xff\xfe un\xc3", 6)) == std::vector<int64_t>{4});  // invalid bytes dropped
  CHECK(wordpiece_tokenize(v, std::string("aff\0aff", 7)) == std::vector<int64_t>{7, 5});  // NUL dropped: "affaff"
  CHECK(wordpiece_tokenize(v, "\xed\xa0\x80") .empty());  // a UTF-8-encoded surrogate
}

TEST_CASE("wordpiece: bad vocabularies are rejected naming the file") {
  CHECK_THROWS_WITH_AS(parse_wordpiece_vocab({"[PAD]", "[UNK]", "[CLS]"}, "v.txt"), doctest::Contains("v.txt: not a BERT vocabulary (no [SEP]"),
                       DataError);
  CHECK_THROWS_WITH_AS(parse_wordpiece_vocab({"[PAD]", "a", "a"}, "v.txt"), doctest::Contains("line 3 repeats"),
                       DataError);
}

TEST_CASE("gradcheck: through a tiny BERT and mean pooling") {
  BertConfig c;
  c.vocab = 7;
  c.hidden = 4;
  c.heads = 2;
  c.layers = 1;
  c.intermediate = 6;
  c.max_positions = 5;
  c.eps = 1e-5f;
  const BertEncoder bert(c);
  Generator gen(3);
  TensorMap w = init_tensors(bert.parameters(), gen);
  const Tensor ids = Tensor::from_labels({2, 5, 1, 0, 3, 3, 6, 4});
  const Tensor mask = Tensor::from_vector({1, 1, 1, 0, 1, 1, 1, 1}, {2, 4});  // first sequence padded
  const char* probed[] = {"embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight",
                          "encoder.layer.0.intermediate.dense.weight", "encoder.layer.0.output.LayerNorm.weight"};
  for (const char* name : probed) {
    CAPTURE(name);
    auto f = [&](const std::vector<Tensor>& in) {
      TensorMap m = w;
      m[name] = in[0];
      return mean_pool_normalized(bert.forward(m, ids, mask), mask);
    };
    CHECK(taper::testing::gradcheck(f, {w.at(name).clone()}) == "");
  }
  // Padding is masked: changing the padded token's id changes nothing.
  Tensor other = ids.clone();
  other.i64()[3] = 6;
  NoGradGuard no_grad;
  CHECK(mean_pool_normalized(bert.forward(w, ids, mask), mask).to_vector() ==
        mean_pool_normalized(bert.forward(w, other, mask), mask).to_vector());
  CHECK_THROWS_WITH_AS(bert.forward(w, ids, Tensor::zeros({2, 3})), doctest::Contains("ids must be I64 [B*L] = [6]"),
                       std::invalid_argument);
  w.erase("encoder.layer.0.output.dense.bias");
  CHECK_THROWS_WITH_AS(bert.forward(w, ids, mask), doctest::Contains("encoder.layer.0.output.dense.bias"),
                       std::invalid_argument);
}

TEST_CASE("sentence encoder: a missing model says how to get it") {
  taper::testing::TempDir dir;
  CHECK_FALSE(text_model_available(dir.str()));
  CHECK_THROWS_WITH_AS(SentenceEncoder::load(text_model_dir(dir.str())), doctest::Contains("make text-model"),
                       TextModelMissing);
}

TEST_CASE("sentence encoder: all-MiniLM-L6-v2 matches sentence-transformers") {
  if (!text_model_available()) {
    MESSAGE("skipped: no all-MiniLM-L6-v2 in " << text_model_dir() << " (run `make text-model`)");
    return;
  }
  const SentenceEncoder enc = SentenceEncoder::load();
  const std::vector<std::string> texts = fixture_texts("tokenizer_texts");
  for (size_t i = 0; i < texts.size(); ++i) {
    CAPTURE(texts[i]);
    CHECK(enc.token_ids(texts[i]) == taper::testing::reference_tensor("text_fixture.safetensors", "ids." + std::to_string(i)).to_labels());
  }
  const std::vector<std::string> sentences = fixture_texts("sentences");
  const Tensor want = taper::testing::reference_tensor("text_fixture.safetensors", "embeddings");
  const Tensor got = enc.encode(sentences);  // one batch of mixed lengths
  REQUIRE(got.shape() == want.shape());
  for (size_t i = 0; i < sentences.size(); ++i) {
    CAPTURE(sentences[i]);
    CHECK(cosine(got.f32() + i * 384, want.f32() + i * 384, 384) >= 0.9999);
  }
  // Alone, without padding, each sentence gives the same vector.
  const Tensor single = enc.encode({sentences[6]});
  CHECK(cosine(single.f32(), got.f32() + 6 * 384, 384) >= 0.999999);
}
