#include "taper/experiment.h"

#include <cstring>

#include "data/augment.h"
#include "data/catalog.h"
#include "data/subset.h"
#include "engine/backend.h"

namespace taper {

namespace {

TaskSamplerOptions sampler_options(const RunConfig& c) {
  TaskSamplerOptions o;
  o.kind = task_kind_from_name(c.tasks.sampler);
  const bool dynamic = c.tasks.k_max > 0;
  o.k_min = dynamic ? c.tasks.k_min : c.tasks.k;
  o.k_max = dynamic ? c.tasks.k_max : c.tasks.k;
  return o;
}

std::shared_ptr<const Dataset> load(const RunConfig& c, const std::string& split, int64_t per_class) {
  return std::make_shared<const Dataset>(
      subset(load_dataset(c.data.dataset, split), c.data.classes, per_class));
}

void check_k(const RunConfig& c, int64_t classes) {
  const int64_t k_max = c.tasks.k_max > 0 ? c.tasks.k_max : c.tasks.k;
  if (k_max > classes) {
    throw ConfigError(c.source + ": tasks.k" + std::string(c.tasks.k_max > 0 ? "_max" : "") + " = " +
                      std::to_string(k_max) + " exceeds the " + std::to_string(classes) + " classes of " +
                      c.data.dataset + (c.data.classes ? " (data.classes)" : ""));
  }
}

// Stage-2 shards must exist: one class chunk per basis, or whole domains.
void check_shards(const RunConfig& c, const ClassMetadata& meta) {
  const int64_t classes = meta.num_classes(), domains = static_cast<int64_t>(meta.domain_names.size());
  if (c.taper.shards == "classes" && c.taper.bases > classes) {
    throw ConfigError(c.source + ": taper.bases = " + std::to_string(c.taper.bases) +
                      " class shards need at least as many classes, " + c.data.dataset + " has " +
                      std::to_string(classes));
  }
  if (c.taper.shards == "domains" && (domains < 2 || c.taper.bases % domains != 0)) {
    throw ConfigError(c.source + ": taper.shards = \"domains\" needs a dataset with domains and taper.bases a multiple "
                      "of their number; " + c.data.dataset + " has " + std::to_string(domains) + " domain(s)");
  }
}

}  // namespace

int64_t crop_size(const RunConfig& c) { return c.data.image_size > 0 ? c.data.image_size : 224; }

ResNet make_arch(const RunConfig& c, int64_t classes) {
  ResNetConfig rc;
  rc.arch = c.model.arch;
  rc.stem = c.model.stem;
  rc.width = c.model.width;
  rc.num_classes = classes;
  return ResNet(rc);
}

Experiment Experiment::create(const RunConfig& c, Device device) {
  auto train = load(c, "train", c.data.train_per_class);
  auto test = load(c, "test", c.data.test_per_class);
  const int64_t classes = train->meta.num_classes();
  check_k(c, classes);
  check_shards(c, train->meta);
  ResNet arch = make_arch(c, classes);
  MixerLayout layout = make_mixer_layout(arch, c.taper.mixers, c.taper.stem_mixer, c.taper.classifier_mixer);
  auto describer = std::make_shared<const TaskDescriber>(c.tasks.description, c.data.dataset, train->meta,
                                                         c.tasks.sampler == "domain");
  MixerPredictor predictor(describer->dim(), c.taper.predictor_hidden, layout.num_blocks, c.taper.bases);
  TaskSampler sampler = make_task_sampler(c.data.dataset, train->meta, sampler_options(c));
  // Variable-size images are cropped to data.image_size; fixed-size ones are
  // used as they are, and one tells the size.
  int64_t height = crop_size(c), width = height;
  if (!variable_image_size(c.data.dataset)) {
    const Image probe = train->images->image(0);
    height = probe.height, width = probe.width;
  }
  return Experiment{c,      train, test, std::move(arch), std::move(sampler), layout, predictor, height, width,
                    std::move(describer), device};
}

std::vector<float> Experiment::describe(const Task& task) const { return describer->describe(task); }

Tensor Experiment::describe_all(const std::vector<Task>& tasks) const {
  const int64_t d = predictor.description_dim();
  Tensor out = Tensor::empty({static_cast<int64_t>(tasks.size()), d});
  for (size_t g = 0; g < tasks.size(); ++g) {
    const std::vector<float> v = describe(tasks[g]);
    std::memcpy(out.f32() + g * d, v.data(), d * sizeof(float));
  }
  return out;
}

bool Experiment::resized_crops() const { return variable_image_size(config.data.dataset); }

Transform Experiment::transform(bool train) const {
  const bool augment = train && config.data.augment;
  if (resized_crops()) {
    const int64_t size = image_height, resize = eval_resize(size);
    return [augment, size, resize](const Image& im, Generator& gen, float* out) {
      augment_imagenet(im, gen, augment, kImageNetNormalization, out, size, resize);
    };
  }
  return [augment](const Image& im, Generator& gen, float* out) {
    augment_cifar(im, gen, augment, kCifar100Normalization, out);
  };
}

LoaderOptions Experiment::loader_options(int64_t batch, bool train) const {
  LoaderOptions o;
  o.batch_size = batch;
  o.shuffle = train;
  o.drop_last = train;
  o.workers = static_cast<int>(config.data.workers);
  o.seed = config.seed;
  o.height = image_height;
  o.width = image_width;
  // On a GPU the images live there and are augmented there (the same bits
  // as transform(train) makes), unless they are decoded from files.
  if (!device.is_cpu() && !this->train->images->decodes_files()) {
    o.resident = ResidentCrop{device, train && config.data.augment, pad_crop_parameters(4, kCifar100Normalization)};
  }
  return o;
}

std::vector<Task> Experiment::eval_tasks() const { return assign_tasks(*test, sampler, config.tasks.eval_seed, 0); }

std::vector<Batch> decode_images(const Experiment& exp, std::shared_ptr<const Dataset> data,
                                 std::vector<int64_t> indices) {
  LoaderOptions o = exp.loader_options(256, false);
  o.order = [indices = std::move(indices)](int64_t) { return indices; };
  Loader loader(std::move(data), o, exp.transform(false));
  loader.start_epoch(0);
  std::vector<Batch> batches;
  for (Batch b; loader.next(b);) batches.push_back(std::move(b));
  return batches;
}

DeviceBatch to_device(const Batch& b, Device device) { return {b.images.to(device), b.labels.to(device)}; }

Tensor slice_rows(const Tensor& x, int64_t begin, int64_t end) {
  Shape shape = x.shape();
  const int64_t per_row = x.numel() / shape.dims[0];
  shape.dims[0] = end - begin;
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  backend_for(x.device()).copy_range(out, 0, x, begin * per_row * dtype_size(x.dtype()), out.nbytes());
  return out;
}

}  // namespace taper
