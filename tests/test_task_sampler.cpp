// The paper's task samplers on a small hand-made class hierarchy.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "data/task_sampler.h"

using namespace taper;

namespace {

// 12 classes in 4 super-categories of 3 (class c belongs to c / 3), 2 domains.
ClassMetadata hierarchy() {
  ClassMetadata m;
  for (int c = 0; c < 12; ++c) m.class_names.push_back("class_" + std::to_string(c));
  m.super_names = {"s0", "s1", "s2", "s3"};
  for (int c = 0; c < 12; ++c) m.super_of_class.push_back(c / 3);
  m.domain_names = {"real", "sketch"};
  return m;
}

// Neighbours by |c - d| (a line-shaped "WordNet").
std::vector<std::vector<int64_t>> line_neighbours(int64_t n) {
  std::vector<std::vector<int64_t>> nearest(n);
  for (int64_t c = 0; c < n; ++c) {
    for (int64_t d = 0; d < n; ++d) {
      if (d != c) nearest[c].push_back(d);
    }
    std::stable_sort(nearest[c].begin(), nearest[c].end(),
                     [c](int64_t a, int64_t b) { return std::abs(a - c) < std::abs(b - c); });
  }
  return nearest;
}

void check_task(const Task& t, int64_t label, int64_t k) {
  CHECK(static_cast<int64_t>(t.classes.size()) == k);
  CHECK(std::is_sorted(t.classes.begin(), t.classes.end()));
  CHECK(std::set<int64_t>(t.classes.begin(), t.classes.end()).size() == t.classes.size());
  CHECK(std::count(t.classes.begin(), t.classes.end(), label) == 1);
}

}  // namespace

TEST_CASE("tasks: wordnet-nearest draws the others from the 2k nearest classes") {
  TaskSampler s(hierarchy(), {TaskKind::WordNetNearest, 3, 3}, line_neighbours(12));
  Generator gen(1);
  for (int i = 0; i < 200; ++i) {
    Task t = s.sample(6, 0, gen);
    check_task(t, 6, 3);
    for (int64_t c : t.classes) CHECK(std::abs(c - 6) <= 3);  // the 6 nearest of class 6 lie within 3
  }
}

TEST_CASE("tasks: super-category fills up with whole other super-categories") {
  TaskSampler s(hierarchy(), {TaskKind::SuperCategory, 3, 3});
  Generator gen(2);
  Task t = s.sample(4, 0, gen);
  CHECK(t.classes == std::vector<int64_t>{3, 4, 5});
  TaskSampler big(hierarchy(), {TaskKind::SuperCategory, 6, 6});
  for (int i = 0; i < 100; ++i) {
    Task u = big.sample(4, 0, gen);
    check_task(u, 4, 6);
    std::set<int64_t> supers;
    for (int64_t c : u.classes) supers.insert(c / 3);
    CHECK(supers.size() == 2);  // its own and one whole other
    CHECK(supers.count(1) == 1);
  }
}

TEST_CASE("tasks: domain tasks carry the image's domain; dynamic k stays in range") {
  TaskSampler s(hierarchy(), {TaskKind::Domain, 2, 5});
  Generator gen(3);
  std::set<size_t> sizes;
  for (int i = 0; i < 300; ++i) {
    Task t = s.sample(0, 1, gen);
    CHECK(t.domain == 1);
    CHECK(t.classes.size() >= 2);
    CHECK(t.classes.size() <= 5);
    sizes.insert(t.classes.size());
  }
  CHECK(sizes.size() == 4);
  CHECK(domain_class_sentence("quick_draw", "aquarium_fish") == "This is a quick draw aquarium fish.");
}

TEST_CASE("tasks: assignment is fixed by (seed, epoch); BoW marks the classes") {
  Dataset d;
  d.meta = hierarchy();
  for (int i = 0; i < 50; ++i) d.labels.push_back(i % 12);
  d.domains.assign(50, 0);
  TaskSampler s(d.meta, {TaskKind::Uniform, 4, 4});
  auto a = assign_tasks(d, s, 7, 0), b = assign_tasks(d, s, 7, 0), c = assign_tasks(d, s, 7, 1);
  auto same = [](const std::vector<Task>& x, const std::vector<Task>& y) {
    for (size_t i = 0; i < x.size(); ++i) {
      if (x[i].classes != y[i].classes) return false;
    }
    return true;
  };
  CHECK(same(a, b));
  CHECK_FALSE(same(a, c));
  for (int i = 0; i < 50; ++i) check_task(a[i], d.labels[i], 4);
  std::vector<float> bits = bow_description(a[0], 12);
  CHECK(std::count(bits.begin(), bits.end(), 1.0f) == 4);
}

TEST_CASE("tasks: impossible settings are rejected") {
  ClassMetadata flat = hierarchy();
  flat.super_names.clear();
  flat.super_of_class.clear();
  CHECK_THROWS_WITH_AS(TaskSampler(flat, {TaskKind::SuperCategory, 3, 3}), doctest::Contains("has none"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(TaskSampler(hierarchy(), {TaskKind::Uniform, 5, 13}), doctest::Contains("12 classes"),
                       std::invalid_argument);
  CHECK_THROWS_AS(TaskSampler(hierarchy(), {TaskKind::WordNetNearest, 3, 3}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(task_kind_from_name("random"), doctest::Contains("unknown task sampler"),
                       std::invalid_argument);
}
