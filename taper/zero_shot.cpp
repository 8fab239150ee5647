#include "taper/zero_shot.h"

#include <cmath>
#include <stdexcept>

#include "data/catalog.h"
#include "data/subset.h"
#include "engine/autograd.h"
#include "taper/personalize.h"
#include "taper/progress.h"
#include "taper/task_description.h"

namespace taper {

namespace {

// Row-major matrices in double: the map is small (features + 1) x embedding dim.
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  Matrix(int64_t r, int64_t c) : rows(r), cols(c), v(r * c, 0.0) {}
  double& at(int64_t r, int64_t c) { return v[r * cols + c]; }
  double at(int64_t r, int64_t c) const { return v[r * cols + c]; }
};

// Solves A X = B for symmetric positive definite A (Cholesky), in place of B.
void solve_spd(Matrix a, Matrix& b) {
  const int64_t n = a.rows;
  for (int64_t j = 0; j < n; ++j) {
    double d = a.at(j, j);
    for (int64_t k = 0; k < j; ++k) d -= a.at(j, k) * a.at(j, k);
    if (d <= 0) throw std::runtime_error("zero-shot map: the feature matrix is not positive definite (raise ridge)");
    a.at(j, j) = std::sqrt(d);
    for (int64_t i = j + 1; i < n; ++i) {
      double s = a.at(i, j);
      for (int64_t k = 0; k < j; ++k) s -= a.at(i, k) * a.at(j, k);
      a.at(i, j) = s / a.at(j, j);
    }
  }
  for (int64_t c = 0; c < b.cols; ++c) {
    for (int64_t i = 0; i < n; ++i) {  // L y = b
      double s = b.at(i, c);
      for (int64_t k = 0; k < i; ++k) s -= a.at(i, k) * b.at(k, c);
      b.at(i, c) = s / a.at(i, i);
    }
    for (int64_t i = n - 1; i >= 0; --i) {  // L^T x = y
      double s = b.at(i, c);
      for (int64_t k = i + 1; k < n; ++k) s -= a.at(k, i) * b.at(k, c);
      b.at(i, c) = s / a.at(i, i);
    }
  }
}

// Ridge regression from [features, 1] of personalized networks to the
// embedding of each image's class, over images of sampled training tasks.
Matrix fit_map(const Experiment& exp, const TaperModel& model, const Tensor& embeddings, const ZeroShotOptions& o) {
  const int64_t f = exp.arch.feature_dim() + 1, d = embeddings.size(1);
  Matrix a(f, f), b(f, d);
  for (int64_t i = 0; i < f; ++i) a.at(i, i) = o.ridge;
  ProgressBar bar("zero-shot: fitting the feature -> text map", o.map_tasks, "tasks");
  for (int64_t t = 0; t < o.map_tasks; ++t) {
    Generator gen = Generator(o.seed).fork(static_cast<uint64_t>(t));
    const int64_t anchor = static_cast<int64_t>(gen.below(exp.train->size()));
    const Task task = exp.sampler.sample(exp.train->labels[anchor], -1, gen);
    std::vector<int64_t> pool = images_of(*exp.train, task.classes);
    gen.shuffle(pool);
    pool.resize(std::min<size_t>(pool.size(), o.images_per_task));
    MixedNetwork m = mix_for_task(exp, model, task);
    for (const Batch& batch : decode_images(exp, exp.train, pool)) {
      const Tensor feats = exp.arch.features(m.params, m.buffers, batch.images, false);
      for (int64_t r = 0; r < feats.size(0); ++r) {
        std::vector<double> x(feats.f32() + r * (f - 1), feats.f32() + (r + 1) * (f - 1));
        x.push_back(1.0);
        const float* e = embeddings.f32() + batch.labels.i64()[r] * d;
        for (int64_t i = 0; i < f; ++i) {
          for (int64_t j = 0; j < f; ++j) a.at(i, j) += x[i] * x[j];
          for (int64_t j = 0; j < d; ++j) b.at(i, j) += x[i] * e[j];
        }
      }
    }
    bar.update(t + 1, "");
  }
  bar.finish("");
  solve_spd(a, b);
  return b;
}

// Within-task accuracy on the test images whose class lies in [lo, hi).
double evaluate_side(const Experiment& exp, const TaperModel& model, const Tensor& embeddings, const Matrix& map,
                     std::shared_ptr<const Dataset> test, int64_t lo, int64_t hi, const ZeroShotOptions& o) {
  std::vector<int64_t> side;
  for (int64_t c = lo; c < hi; ++c) side.push_back(c);
  const std::vector<int64_t> images = images_of(*test, side);
  const int64_t f = exp.arch.feature_dim() + 1, d = embeddings.size(1);
  ProgressBar bar("zero-shot: classes " + std::to_string(lo) + "-" + std::to_string(hi - 1), images.size(), "img");
  int64_t hits = 0, seen = 0;
  for (const Batch& batch : decode_images(exp, test, images)) {
    for (int64_t r = 0; r < batch.labels.numel(); ++r) {
      const int64_t label = batch.labels.i64()[r];
      Generator gen = Generator(o.seed ^ 0x2e50ull).fork(static_cast<uint64_t>(batch.indices[r]));
      std::vector<int64_t> others;
      for (int64_t c : side) {
        if (c != label) others.push_back(c);
      }
      gen.shuffle(others);
      std::vector<int64_t> classes(others.begin(), others.begin() + std::min<int64_t>(o.k - 1, others.size()));
      classes.push_back(label);
      MixedNetwork m = mix_for_description(exp, model, mean_of_rows(embeddings, classes));
      const Tensor feat = exp.arch.features(m.params, m.buffers, slice_rows(batch.images, r, r + 1), false);
      std::vector<double> z(d, 0.0);
      for (int64_t i = 0; i < f; ++i) {
        const double x = i + 1 < f ? feat.f32()[i] : 1.0;
        for (int64_t j = 0; j < d; ++j) z[j] += x * map.at(i, j);
      }
      int64_t best = -1;
      double best_score = -1e300;
      for (int64_t c : classes) {
        const float* e = embeddings.f32() + c * d;
        double dot = 0, norm = 0;
        for (int64_t j = 0; j < d; ++j) dot += z[j] * e[j], norm += z[j] * z[j];
        const double score = dot / std::sqrt(std::max(norm, 1e-30));  // class embeddings are unit vectors
        if (score > best_score) best_score = score, best = c;
      }
      hits += best == label;
      bar.update(++seen, "");
    }
  }
  bar.finish("");
  return images.empty() ? 0.0 : double(hits) / images.size();
}

}  // namespace

ZeroShotAccuracy zero_shot(const Experiment& exp, const TaperModel& model, const ZeroShotOptions& o) {
  NoGradGuard no_grad;
  const RunConfig& c = exp.config;
  if (c.tasks.description != "text") {
    throw std::invalid_argument("zero-shot needs tasks.description = \"text\" (unseen classes are described by "
                                "their names' embeddings), got \"" + c.tasks.description + "\"");
  }
  if (c.tasks.sampler == "domain") throw std::invalid_argument("zero-shot tasks have no domain: use a class sampler");
  auto test = std::make_shared<const Dataset>(subset(load_dataset(c.data.dataset, "test"), 0, c.data.test_per_class));
  ZeroShotAccuracy acc;
  acc.seen_classes = exp.num_classes();
  acc.unseen_classes = test->meta.num_classes() - acc.seen_classes;
  if (o.unseen_classes > 0) acc.unseen_classes = std::min(acc.unseen_classes, o.unseen_classes);
  if (acc.unseen_classes < o.k) {
    throw std::invalid_argument("zero-shot needs at least k = " + std::to_string(o.k) + " unseen classes: set " +
                                "data.classes below " + c.data.dataset + "'s " +
                                std::to_string(test->meta.num_classes() - o.k + 1));
  }
  const Tensor embeddings = TaskDescriber("text", c.data.dataset, test->meta, false).class_embeddings();
  const Matrix map = fit_map(exp, model, embeddings, o);
  acc.seen = evaluate_side(exp, model, embeddings, map, test, 0, acc.seen_classes, o);
  acc.unseen = evaluate_side(exp, model, embeddings, map, test, acc.seen_classes, acc.seen_classes + acc.unseen_classes, o);
  return acc;
}

}  // namespace taper
