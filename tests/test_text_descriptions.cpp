// Text task descriptions: prompt ensembles, domain prompts and the cache
// (taper/task_description.h), free-text tasks (taper/free_text.h), and a
// tiny run trained on class names and evaluated on WordNet definitions,
// and zero-shot tasks of classes a run never saw (taper/zero_shot.h).
// Tests that need all-MiniLM-L6-v2 (or CIFAR-100) skip with a message
// without it.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/catalog.h"
#include "data/image.h"
#include "taper/free_text.h"
#include "taper/personalize.h"
#include "taper/pipeline.h"
#include "taper/sentence_encoder.h"
#include "taper/task_description.h"
#include "taper/zero_shot.h"
#include "tests/temp_dir.h"

using namespace taper;
namespace fs = std::filesystem;

namespace {

#define SKIP_WITHOUT_TEXT_MODEL()                                                                      \
  if (!text_model_available()) {                                                                       \
    MESSAGE("skipped: no all-MiniLM-L6-v2 in " << text_model_dir() << " (run `make text-model`)"); \
    return;                                                                                            \
  }

// A data root holding only a link to the model.
std::string root_with_model(const taper::testing::TempDir& dir) {
  fs::create_directory_symlink(fs::absolute(text_model_dir()), dir.path / "all-MiniLM-L6-v2");
  return dir.str();
}

ClassMetadata toy_meta(std::vector<std::string> domains = {"real"}) {
  ClassMetadata m;
  m.class_names = {"apple", "wardrobe", "maple_tree"};
  m.domain_names = std::move(domains);
  return m;
}

double max_abs_diff(const float* a, const float* b, int64_t n) {
  double d = 0.0;
  for (int64_t i = 0; i < n; ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return d;
}

}  // namespace

TEST_CASE("text descriptions: without the model, text says how to get it and bow keeps working") {
  taper::testing::TempDir empty;
  const TaskDescriber bow("bow", "toy", toy_meta(), false, empty.str());
  CHECK(bow.dim() == 3);
  CHECK(bow.describe(Task{{0, 2}, -1}) == std::vector<float>{1, 0, 1});
  CHECK_THROWS_WITH_AS(TaskDescriber("text", "toy", toy_meta(), false, empty.str()), doctest::Contains("make text-model"),
                       TextModelMissing);
  CHECK_THROWS_WITH_AS(TaskDescriber("definitions", "toy", toy_meta(), false, empty.str()),
                       doctest::Contains("toy: WordNet definitions need a class -> WordNet mapping"), DataError);
}

TEST_CASE("text descriptions: prompt ensembles, domain prompts, task means and the cache") {
  SKIP_WITHOUT_TEXT_MODEL();
  taper::testing::TempDir dir;
  const std::string root = root_with_model(dir);
  const TaskDescriber text("text", "toy", toy_meta(), false, root);
  REQUIRE(text.dim() == 384);
  REQUIRE(text.class_embeddings().shape() == Shape{3, 384});

  // A class: its 8 template sentences' unit embeddings, averaged and renormalised.
  const SentenceEncoder enc = SentenceEncoder::load();
  std::vector<std::string> apple;
  for (const std::string& t : prompt_templates()) apple.push_back(fill_template(t, "apple"));
  CHECK(apple[0] == "a photo of a apple.");
  const Tensor e = enc.encode(apple);
  std::vector<double> mean(384, 0.0);
  double norm = 0.0;
  for (int64_t j = 0; j < 384; ++j) {
    for (int64_t t = 0; t < 8; ++t) mean[j] += e.f32()[t * 384 + j] / 8.0;
    norm += mean[j] * mean[j];
  }
  std::vector<float> want(384);
  for (int64_t j = 0; j < 384; ++j) want[j] = static_cast<float>(mean[j] / std::sqrt(norm));
  CHECK(max_abs_diff(text.class_embeddings().f32(), want.data(), 384) < 1e-5);

  // A task: the mean of its classes' embeddings.
  const std::vector<float> task = text.describe(Task{{0, 2}, -1});
  std::vector<float> both(384);
  for (int64_t j = 0; j < 384; ++j) {
    both[j] = 0.5f * (text.class_embeddings().f32()[j] + text.class_embeddings().f32()[2 * 384 + j]);
  }
  CHECK(max_abs_diff(task.data(), both.data(), 384) < 1e-6);

  // Domain tasks: "This is a {domain} {class}." per (domain, class).
  const TaskDescriber domains("text", "toy", toy_meta({"sketch", "real"}), true, root);
  REQUIRE(domains.class_embeddings().shape() == Shape{6, 384});
  const Tensor sketch_tree = enc.encode({"This is a sketch maple tree."});
  CHECK(max_abs_diff(domains.class_embeddings().f32() + 2 * 384, sketch_tree.f32(), 384) < 1e-5);
  CHECK(domains.describe(Task{{1}, 1}) == std::vector<float>(domains.class_embeddings().f32() + 4 * 384,
                                                             domains.class_embeddings().f32() + 5 * 384));

  // The cache answers without the model; a damaged cache file is recomputed (here: needs the model).
  fs::remove(dir.path / "all-MiniLM-L6-v2");
  const TaskDescriber cached("text", "toy", toy_meta(), false, root);
  CHECK(cached.class_embeddings().to_vector() == text.class_embeddings().to_vector());
  for (const auto& f : fs::directory_iterator(dir.path / "text-embeddings")) fs::resize_file(f.path(), 100);
  CHECK_THROWS_AS(TaskDescriber("text", "toy", toy_meta(), false, root), TextModelMissing);
}

TEST_CASE("free text: each part's closest class joins the task; the description is the parts' mean") {
  SKIP_WITHOUT_TEXT_MODEL();
  taper::testing::TempDir dir;
  const TaskDescriber text("text", "toy", toy_meta(), false, root_with_model(dir));
  const SentenceEncoder enc = SentenceEncoder::load();
  const FreeTextTask t = free_text_task(" a tall chest of drawers ;a fleshy red fruit;; ", text, enc, 3);
  CHECK(t.parts == std::vector<std::string>{"a tall chest of drawers", "a fleshy red fruit"});
  CHECK(t.closest.at(0).front().label == 1);  // wardrobe
  CHECK(t.closest.at(1).front().label == 0);  // apple
  CHECK(t.task.classes == std::vector<int64_t>{0, 1});
  const Tensor parts = enc.encode(t.parts);
  std::vector<float> mean(384);
  for (int64_t j = 0; j < 384; ++j) mean[j] = 0.5f * (parts.f32()[j] + parts.f32()[384 + j]);
  CHECK(max_abs_diff(t.description.data(), mean.data(), 384) < 1e-6);
  CHECK_THROWS_WITH_AS(free_text_task(" ; ", text, enc, 3), doctest::Contains("no description"), std::invalid_argument);
  const TaskDescriber bow("bow", "toy", toy_meta(), false, dir.str());
  CHECK_THROWS_WITH_AS(free_text_task("a fruit", bow, enc, 3), doctest::Contains("bag-of-words"), std::invalid_argument);
}

TEST_CASE("text descriptions: a tiny run trained on class names, evaluated on WordNet definitions") {
  SKIP_WITHOUT_TEXT_MODEL();
  RunConfig config;
  try {
    config = load_config(std::string(TAPER_SOURCE_DIR) + "/tests/configs/tiny_e2e.toml");
    config.tasks.description = "text";
    load_dataset(config.data.dataset, "test");
  } catch (const DataError& e) {
    MESSAGE("skipped: " << e.what());
    return;
  }
  taper::testing::TempDir dir;
  const std::string run_dir = dir.str() + "/run";
  train_run(config, run_dir, false);
  const nlohmann::json names = nlohmann::json::parse(std::ifstream(run_dir + "/eval.json"));
  CHECK(names.at("task_description") == "text");
  CHECK_FALSE(names.contains("mixer_cosine"));

  RunConfig definitions = load_config(run_dir + "/config.toml");
  definitions.tasks.description = "definitions";
  TrainedRun run = load_run(run_dir, &definitions);
  REQUIRE(run.trained_describer);
  const EvalSummary e = evaluate_run(run);
  REQUIRE(e.mixer_cosine);
  CHECK(*e.mixer_cosine > 0.0);
  CHECK(*e.mixer_cosine <= 1.0 + 1e-9);
  // The same descriptions on both sides agree exactly.
  const std::vector<Task> tasks = run.exp.eval_tasks();
  CHECK(mean_mixer_cosine(run.exp, run.taper, tasks, *run.exp.describer) == doctest::Approx(1.0).epsilon(1e-9));

  RunConfig bow = definitions;
  bow.tasks.description = "bow";
  CHECK_THROWS_WITH_AS(load_run(run_dir, &bow), doctest::Contains("trained on \"text\""), ConfigError);

  // Free text through the trained run: a personalized model of the inferred classes.
  const TrainedRun trained = load_run(run_dir);
  const FreeTextTask t = free_text_task("a fleshy red fruit; a large furry animal", *trained.exp.describer,
                                        SentenceEncoder::load(), trained.exp.num_classes());
  const PersonalizedModel m = personalize(trained.exp, trained.taper, t.task, t.description);
  CHECK(m.class_names.size() == t.task.classes.size());
  CHECK(m.class_names.front() == "apple");
}

TEST_CASE("zero-shot: a run on seen classes classifies unseen-class tasks through the feature -> text map") {
  SKIP_WITHOUT_TEXT_MODEL();
  RunConfig config;
  try {
    config = load_config(std::string(TAPER_SOURCE_DIR) + "/tests/configs/tiny_e2e.toml");
    load_dataset(config.data.dataset, "test");
  } catch (const DataError& e) {
    MESSAGE("skipped: " << e.what());
    return;
  }
  config.tasks.description = "text";
  config.data.classes = 4;
  taper::testing::TempDir dir;
  train_run(config, dir.str() + "/run", false);
  TrainedRun run = load_run(dir.str() + "/run");
  ZeroShotOptions o;
  o.k = 3;
  o.unseen_classes = 3;
  o.map_tasks = 4;
  o.images_per_task = 8;
  const ZeroShotAccuracy a = zero_shot(run.exp, run.taper, o);
  CHECK(a.seen_classes == 4);
  CHECK(a.unseen_classes == 3);
  for (double v : {a.seen, a.unseen}) {
    CHECK(v >= 0.0);
    CHECK(v <= 1.0);
  }
  CHECK(zero_shot(run.exp, run.taper, o).unseen == a.unseen);  // deterministic
  o.k = 4;  // more than the 3 unseen classes
  CHECK_THROWS_WITH(zero_shot(run.exp, run.taper, o), doctest::Contains("at least k = 4 unseen classes"));

  config.tasks.description = "bow";
  train_run(config, dir.str() + "/bow", false);
  TrainedRun bow = load_run(dir.str() + "/bow");
  CHECK_THROWS_WITH(zero_shot(bow.exp, bow.taper, ZeroShotOptions{}), doctest::Contains("zero-shot needs tasks.description"));
}
