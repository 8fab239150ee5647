// The paper's datasets by name (issue 5, paper scale): imagenet,
// inaturalist2021 and domainnet in the catalog, their task samplers
// (WordNet-nearest through the wnids, super-category, domain), ImageNet-style
// preprocessing for variable-size images, a `taper train` run on a tiny
// ImageNet-layout fixture with the imagenet stem, and `taper reproduce
// --scale paper` failing before any training when the data is missing. Every
// fixture is written by the test; the layouts are data/README.md's.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "data/augment.h"
#include "data/catalog.h"
#include "data/domainnet.h"
#include "data/file_io.h"
#include "data/image.h"
#include "data/loader.h"
#include "data/wordnet.h"
#include "taper/config.h"
#include "taper/experiment.h"
#include "taper/experiment_spec.h"
#include "taper/personalize.h"
#include "taper/pipeline.h"
#include "taper/reproduce.h"
#include "tests/temp_dir.h"

using namespace taper;
using taper::testing::TempDir;
namespace fs = std::filesystem;

namespace {

doctest::Contains has(const std::string& part) { return doctest::Contains(part.c_str()); }

void write_text(const std::string& path, const std::string& text) {
  write_file_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

// An h x w picture whose colour depends on `seed`, so that classes differ.
Image picture(int64_t h, int64_t w, int seed) {
  Image im(h, w);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      uint8_t* p = im.at(y, x);
      p[0] = static_cast<uint8_t>(40 * seed + 3 * x);
      p[1] = static_cast<uint8_t>(90 + 17 * seed + 5 * y);
      p[2] = static_cast<uint8_t>(200 - 23 * seed + x * y);
    }
  }
  return im;
}

// Points $TAPER_DATA at `root` for the scope, restoring it afterwards.
class DataRootScope {
 public:
  explicit DataRootScope(const std::string& root) {
    if (const char* old = std::getenv("TAPER_DATA")) saved_ = old, had_ = true;
    ::setenv("TAPER_DATA", root.c_str(), 1);
  }
  ~DataRootScope() { had_ ? (void)::setenv("TAPER_DATA", saved_.c_str(), 1) : (void)::unsetenv("TAPER_DATA"); }

 private:
  std::string saved_;
  bool had_ = false;
};

// Five dog breeds, then five motor vehicles: WordNet 3.0 noun offsets as
// ImageNet-1k wnids. Within a group the WordNet paths are short, across
// them long, so with k = 2 (a pool of the 4 nearest) a task never mixes groups.
const std::vector<std::pair<std::string, std::string>> kWnids = {
    {"n02085620", "Chihuahua"},       {"n02085782", "Japanese spaniel"}, {"n02085936", "Maltese dog"},
    {"n02086240", "Shih-Tzu"},        {"n02086646", "Blenheim spaniel"}, {"n02701002", "ambulance"},
    {"n03417042", "garbage truck"},   {"n03977966", "police van"},       {"n04037443", "racer, race car"},
    {"n02930766", "cab, taxi"}};
bool is_dog(int64_t label) { return label < 5; }

// <root>/imagenet: the synset list, train/<wnid>/ with `per_class` images of
// varying sizes (one PNG named .JPEG, as in ImageNet), val/<wnid>/ (the
// valprep.sh layout) with one image each.
void write_imagenet(const TempDir& root, int per_class) {
  std::string synsets;
  for (size_t c = 0; c < kWnids.size(); ++c) {
    const auto& [wnid, name] = kWnids[c];
    synsets += wnid + " " + name + "\n";
    for (int i = 0; i < per_class; ++i) {
      write_png(root / ("imagenet/train/" + wnid + "/" + wnid + "_" + std::to_string(i) + ".JPEG"),
                picture(36 + 4 * i, 44 - 2 * i, static_cast<int>(c)));
    }
    write_png(root / ("imagenet/val/" + wnid + "/ILSVRC2012_val_0000000" + std::to_string(c) + ".JPEG"),
              picture(40, 50, static_cast<int>(c)));
  }
  write_text(root / "imagenet/LOC_synset_mapping.txt", synsets);
}

// <root>/inaturalist-2021: 6 species in 3 supercategories, train.json and
// val.json, image files of varying sizes.
void write_inaturalist(const TempDir& root) {
  const nlohmann::json categories = nlohmann::json::parse(R"([
      {"id": 0, "name": "Lumbricus terrestris", "supercategory": "Animalia"},
      {"id": 1, "name": "Eisenia fetida", "supercategory": "Animalia"},
      {"id": 2, "name": "Quercus robur", "supercategory": "Plants"},
      {"id": 3, "name": "Fagus sylvatica", "supercategory": "Plants"},
      {"id": 4, "name": "Amanita muscaria", "supercategory": "Fungi"},
      {"id": 5, "name": "Boletus edulis", "supercategory": "Fungi"}])");
  for (const auto& [split, per_class] : {std::pair<std::string, int>{"train", 3}, {"val", 1}}) {
    nlohmann::json images = nlohmann::json::array(), annotations = nlohmann::json::array();
    int id = 0;
    for (int c = 0; c < 6; ++c) {
      for (int i = 0; i < per_class; ++i, ++id) {
        const std::string file = split + "/" + std::to_string(c) + "/" + std::to_string(i) + ".jpg";
        write_png(root / ("inaturalist-2021/" + file), picture(30 + 3 * i, 38, c));
        images.push_back({{"id", 1000 + id}, {"file_name", file}});
        annotations.push_back({{"id", id}, {"image_id", 1000 + id}, {"category_id", c}});
      }
    }
    write_text(root / ("inaturalist-2021/" + split + ".json"),
               nlohmann::json{{"images", images}, {"annotations", annotations}, {"categories", categories}}.dump());
  }
}

// <root>/domainnet: all six domains, 3 classes, 2 training and 1 test image each.
void write_domainnet(const TempDir& root) {
  const std::vector<std::string> classes = {"aircraft_carrier", "bicycle", "zebra"};
  for (const std::string& domain : domainnet_domains()) {
    std::string train, test;
    for (size_t c = 0; c < classes.size(); ++c) {
      for (int i = 0; i < 3; ++i) {
        const std::string path = domain + "/" + classes[c] + "/" + domain + "_00" + std::to_string(i) + ".jpg";
        write_png(root / ("domainnet/" + path), picture(28 + 2 * i, 34, static_cast<int>(c)));
        (i < 2 ? train : test) += path + " " + std::to_string(c) + "\n";
      }
    }
    write_text(root / ("domainnet/" + domain + "_train.txt"), train);
    write_text(root / ("domainnet/" + domain + "_test.txt"), test);
  }
}

// The taper binary beside this test binary ("" when there is none).
std::string taper_binary() {
  std::error_code ec;
  const fs::path bin = fs::read_symlink("/proc/self/exe", ec).parent_path() / "taper";
  return !ec && fs::is_regular_file(bin) ? bin.string() : "";
}

// A seconds-long run on the ImageNet fixture: a 1/8-width ResNet-18 with the
// imagenet stem on 32x32 crops, 2 bases, WordNet-nearest 2-way tasks.
const char kImageNetRun[] = R"(seed = 1
[data]
dataset = "imagenet"
image_size = 32
workers = 1
[model]
arch = "resnet18"
stem = "imagenet"
width = 0.125
[tasks]
sampler = "wordnet-nearest"
k = 2
[taper]
bases = 2
groups = 2
predictor_hidden = 8
[optim]
batch = 4
lr = 0.05
schedule = "cosine"
[stage1]
epochs = 1
[stage2]
epochs = 1
[stage3]
epochs = 1
[baseline]
epochs = 1
)";

}  // namespace

TEST_CASE("paper datasets: the catalog knows them, reads test as ImageNet's and iNaturalist's val") {
  const TempDir root;
  for (const char* name : {"imagenet", "inaturalist2021", "domainnet"}) {
    CAPTURE(name);
    const auto& names = dataset_names();
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
    CHECK(variable_image_size(name));
    // A missing folder: the usual error, naming the folder and where to get it.
    CHECK_THROWS_WITH_AS(load_dataset(name, "train", root.str()), has("not found (data root"), DataError);
    CHECK_THROWS_WITH_AS(dataset_dir(name, root.str()), has("data/README.md"), DataError);
  }
  for (const char* name : {"cifar100", "cifar100-styles", "pacs"}) CHECK_FALSE(variable_image_size(name));
  CHECK_THROWS_WITH_AS(load_dataset("imagenet", "train", root.str()), has(root.str() + "/imagenet"),
                       DataError);
  CHECK_THROWS_WITH_AS(load_dataset("inaturalist2021", "test", root.str()),
                       has(root.str() + "/inaturalist-2021"), DataError);
  CHECK_THROWS_WITH_AS(load_dataset("imagenet21k", "train", root.str()), has("unknown dataset"), DataError);

  write_imagenet(root, 2);
  write_inaturalist(root);
  write_domainnet(root);
  const Dataset imagenet = load_dataset("imagenet", "test", root.str());
  CHECK(imagenet.split == "val");
  CHECK(imagenet.size() == 10);
  CHECK(imagenet.meta.class_ids.front() == "n02085620");
  const Dataset inat = load_dataset("inaturalist2021", "test", root.str());
  CHECK(inat.split == "val");
  CHECK(inat.size() == 6);
  CHECK(inat.meta.super_names == std::vector<std::string>{"Animalia", "Fungi", "Plants"});
  const Dataset domainnet = load_dataset("domainnet", "train", root.str());
  CHECK(domainnet.meta.domain_names == domainnet_domains());
  CHECK(domainnet.size() == 6 * 3 * 2);
}

TEST_CASE("paper datasets: ImageNet WordNet-nearest tasks come from each class's nearest wnids") {
  const TempDir root;
  write_imagenet(root, 2);
  const Dataset train = load_dataset("imagenet", "train", root.str());
  const auto kinds = task_kinds_for("imagenet", train.meta);
  CHECK(std::find(kinds.begin(), kinds.end(), TaskKind::WordNetNearest) != kinds.end());
  const int64_t k = 2;
  const TaskSampler sampler = make_task_sampler("imagenet", train.meta, {TaskKind::WordNetNearest, k, k});

  // The neighbours, computed here straight from WordNet: the pool of a
  // class's task is the 2k classes at the smallest path lengths.
  const WordNet wordnet;
  std::vector<int32_t> synsets;
  for (const auto& [wnid, name] : kWnids) synsets.push_back(*wordnet.find(wnid));
  auto distance = [&](int64_t a, int64_t b) { return *wordnet.distance(synsets[a], synsets[b]); };
  for (const Task& task : assign_tasks(train, sampler, 7, 0)) {
    REQUIRE(task.classes.size() == static_cast<size_t>(k));
    CHECK(is_dog(task.classes[0]) == is_dog(task.classes[1]));  // the fixture's two groups never mix
  }
  for (int64_t label = 0; label < 10; ++label) {
    std::vector<int32_t> others;
    for (int64_t c = 0; c < 10; ++c) {
      if (c != label) others.push_back(distance(label, c));
    }
    std::sort(others.begin(), others.end());
    const int32_t pool_radius = others[2 * k - 1];
    Generator gen(label);
    for (int draw = 0; draw < 20; ++draw) {
      const Task t = sampler.sample(label, 0, gen);
      for (int64_t c : t.classes) {
        CAPTURE(label);
        CAPTURE(c);
        if (c != label) CHECK(distance(label, c) <= pool_radius);
      }
    }
  }
  // The other paper datasets have no class -> WordNet mapping.
  const TempDir inat_root;
  write_inaturalist(inat_root);
  const Dataset inat = load_dataset("inaturalist2021", "train", inat_root.str());
  CHECK_THROWS_WITH_AS(make_task_sampler("inaturalist2021", inat.meta, {TaskKind::WordNetNearest, 2, 2}),
                       has("class -> WordNet mapping"), DataError);
}

TEST_CASE("paper datasets: iNaturalist super-category and DomainNet domain tasks through Experiment::create") {
  const TempDir root;
  write_inaturalist(root);
  write_domainnet(root);
  const DataRootScope scope(root.str());

  SUBCASE("iNaturalist: super-category tasks stay in the label's supercategory") {
    const RunConfig c = parse_config(
        "[data]\ndataset = \"inaturalist2021\"\nimage_size = 24\nworkers = 1\n[model]\narch = \"resnet18\"\n"
        "stem = \"imagenet\"\nwidth = 0.125\n[tasks]\nsampler = \"super-category\"\nk = 2\n[taper]\nbases = 3\n",
        "inat.toml");
    const Experiment exp = Experiment::create(c);
    CHECK(exp.train->size() == 18);
    CHECK(exp.test->size() == 6);
    CHECK(exp.image_height == 24);
    for (const Task& t : exp.eval_tasks()) {
      REQUIRE(t.classes.size() == 2);
      CHECK(exp.train->meta.super_of_class[t.classes[0]] == exp.train->meta.super_of_class[t.classes[1]]);
    }
    // A batch is 24x24 ImageNet-style crops of the variable-size images.
    Loader loader(exp.train, exp.loader_options(4, true), exp.transform(true));
    loader.start_epoch(0);
    Batch b;
    REQUIRE(loader.next(b));
    CHECK(b.images.shape() == Shape{4, 3, 24, 24});
  }
  SUBCASE("DomainNet: domain tasks, one basis per domain from domain shards") {
    const RunConfig c = parse_config(
        "[data]\ndataset = \"domainnet\"\nworkers = 1\n[model]\narch = \"resnet18\"\nstem = \"imagenet\"\n"
        "width = 0.125\n[tasks]\nsampler = \"domain\"\nk = 2\n[taper]\nbases = 6\nshards = \"domains\"\n",
        "domainnet.toml");
    const Experiment exp = Experiment::create(c);
    CHECK(exp.image_height == 224);  // image_size 0: the paper's resolution
    const auto kinds = task_kinds_for("domainnet", exp.train->meta);
    CHECK(std::find(kinds.begin(), kinds.end(), TaskKind::Domain) != kinds.end());
    const std::vector<Task> tasks = exp.eval_tasks();
    REQUIRE(tasks.size() == static_cast<size_t>(exp.test->size()));
    for (size_t i = 0; i < tasks.size(); ++i) {
      CHECK(tasks[i].domain == exp.test->domains[i]);
      CHECK(std::count(tasks[i].classes.begin(), tasks[i].classes.end(), exp.test->labels[i]) == 1);
    }
    CHECK(domain_class_sentence(exp.train->meta.domain_names[tasks[0].domain], "aircraft_carrier") ==
          "This is a clipart aircraft carrier.");
    // One epoch per stage on 16x16 crops: eval.json has each domain's
    // accuracy and their mean (Table 5's last column).
    const TempDir out;
    train_run(parse_config("[data]\ndataset = \"domainnet\"\nimage_size = 16\nworkers = 1\n[model]\n"
                           "arch = \"resnet18\"\nstem = \"imagenet\"\nwidth = 0.125\n[tasks]\nsampler = \"domain\"\n"
                           "k = 2\n[taper]\nbases = 6\nshards = \"domains\"\ngroups = 2\npredictor_hidden = 8\n"
                           "[optim]\nbatch = 4\n[stage1]\nepochs = 1\n[stage2]\nepochs = 1\n[stage3]\nepochs = 1\n"
                           "[baseline]\nepochs = 1\n",
                           "domainnet-run.toml"),
              out / "run", false);
    const nlohmann::json eval = nlohmann::json::parse(std::ifstream(out / "run/eval.json"));
    double sum = 0.0;
    for (const std::string& d : domainnet_domains()) sum += eval.at("taper_personalized@" + d).get<double>();
    CHECK(eval.at("taper_personalized@mean_over_domains").get<double>() == doctest::Approx(sum / 6));
    CHECK(eval.contains("baseline_classifier_selection@mean_over_domains"));
    // 4 bases cannot be split over 6 domains.
    CHECK_THROWS_WITH_AS(Experiment::create(parse_config(
                             "[data]\ndataset = \"domainnet\"\n[model]\narch = \"resnet18\"\nstem = \"imagenet\"\n"
                             "[tasks]\nsampler = \"domain\"\nk = 2\n[taper]\nbases = 4\nshards = \"domains\"\n",
                             "bad.toml")),
                         has("6 domain(s)"), ConfigError);
  }
}

TEST_CASE("paper datasets: ImageNet-style preprocessing; data.image_size only for variable-size data") {
  const TempDir root;
  write_imagenet(root, 1);
  const DataRootScope scope(root.str());
  const Experiment exp = Experiment::create(parse_config(kImageNetRun, "imagenet.toml"));
  CHECK(exp.resized_crops());
  CHECK(exp.image_height == 32);
  CHECK(exp.image_width == 32);
  // Evaluation: shorter side to round(32 * 256 / 224) = 37, center crop 32, ImageNet normalisation.
  CHECK(eval_resize(224) == 256);
  CHECK(eval_resize(32) == 37);
  const Image im = picture(50, 40, 3);
  std::vector<float> got(3 * 32 * 32), want(3 * 32 * 32);
  Generator g1(0), g2(0);
  exp.transform(false)(im, g1, got.data());
  augment_imagenet(im, g2, false, kImageNetNormalization, want.data(), 32, 37);
  CHECK(got == want);
  // Training: a random-resized crop, drawn from the generator.
  Generator g3(5), g4(5);
  exp.transform(true)(im, g3, got.data());
  augment_imagenet(im, g4, true, kImageNetNormalization, want.data(), 32, 37);
  CHECK(got == want);

  CHECK_THROWS_WITH_AS(parse_config("[data]\ndataset = \"cifar100\"\nimage_size = 64\n", "bad.toml"),
                       has("data.image_size: cifar100 images are used at their own size"), ConfigError);
  CHECK_THROWS_WITH_AS(parse_config("[data]\ndataset = \"imagenet\"\nimage_size = -1\n", "bad.toml"),
                       has("data.image_size: must be >= 0"), ConfigError);
  CHECK(parse_config(to_toml(exp.config), "again.toml").data.image_size == 32);
}

TEST_CASE("paper datasets: `taper train` runs every stage on an ImageNet-layout fixture with the imagenet stem") {
  const std::string bin = taper_binary();
  if (bin.empty()) {
    MESSAGE("skipped: no taper binary beside the test binary (make builds both)");
    return;
  }
  const TempDir root;
  write_imagenet(root, 4);
  const std::string config = root.write("imagenet.toml", kImageNetRun), run = root / "run";
  const std::string command = "TAPER_DATA='" + root.str() + "' OMP_NUM_THREADS=1 '" + bin + "' train '" + config +
                              "' --out '" + run + "' > '" + root.str() + "/train.log' 2>&1";
  const int rc = std::system(command.c_str());
  INFO(read_text_lines(root / "train.log").size() << " log lines; command " << command);
  REQUIRE(rc == 0);
  for (const char* f : {"stage1.safetensors", "stage2.shard01.safetensors", "stage3.safetensors",
                        "baseline.safetensors", "eval.json"}) {
    CAPTURE(f);
    CHECK(fs::is_regular_file(run + "/" + f));
  }
  std::set<std::string> stages;
  for (const std::string& line : read_text_lines(run + "/log.jsonl")) {
    const nlohmann::json j = nlohmann::json::parse(line);
    stages.insert(j.at("stage").get<std::string>());
    CHECK(std::isfinite(j.at("loss").get<double>()));
  }
  CHECK(stages == std::set<std::string>{"stage1", "stage2.shard00", "stage2.shard01", "stage3", "baseline"});
  const nlohmann::json eval = nlohmann::json::parse(std::ifstream(run + "/eval.json"));
  CHECK(eval.at("test_images").get<int64_t>() == 10);
  CHECK(eval.at("baseline_classifier_selection").get<double>() >= eval.at("baseline_standard").get<double>());

  // The personalized model remembers the ImageNet-style preprocessing for `taper predict`.
  const DataRootScope scope(root.str());
  TrainedRun trained = load_run(run);
  CHECK(trained.exp.arch.config().stem == "imagenet");
  save_personalized(root / "model.safetensors", personalize(trained.exp, trained.taper, Task{{0, 1}, -1}));
  const PersonalizedModel model = load_personalized(root / "model.safetensors");
  CHECK(model.preprocessing == "imagenet");
  CHECK(model.input_size == 32);
  CHECK(model.class_names == std::vector<std::string>{"Chihuahua", "Japanese spaniel"});
}

TEST_CASE("paper scale: reproduce fails on missing data before training anything") {
  const TempDir empty, out;
  const DataRootScope scope(empty.str());
  ReproduceOptions o;
  o.scale = "paper";
  o.experiments_dir = std::string(TAPER_SOURCE_DIR) + "/experiments";
  o.results_dir = out / "results";
  o.runs_dir = out / "runs";
  // Every paper experiment file and every row's config is read (and so
  // checked) first; then the first missing dataset stops it.
  const std::vector<std::string> names = experiment_names(o.experiments_dir, "paper");
  for (const char* name : {"table2", "table3", "table4", "table5", "table6", "table7", "fig3", "fig4", "zeroshot",
                           "bases", "tasks"}) {
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
  }
  CHECK_THROWS_WITH_AS(reproduce(o), has("domainnet: " + empty.str() + "/domainnet not found"), DataError);
  o.only = {"table2"};
  CHECK_THROWS_WITH_AS(reproduce(o), has("imagenet: " + empty.str() + "/imagenet not found"), DataError);
  o.only = {"table4"};
  CHECK_THROWS_WITH_AS(reproduce(o), has("inaturalist-2021 not found"), DataError);
  CHECK_FALSE(fs::exists(out / "runs"));
  CHECK_FALSE(fs::exists(out / "results"));
}
