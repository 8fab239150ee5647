// What the evaluation cache (taper/evaluation_cache.h) saves when several
// finished runs share checkpoints, as the harness's rows do: each run is
// evaluated once without the cache and once through one cache shared by all
// of them, in the order given, and the accuracies must agree. Prints each
// run's wall and CPU seconds both ways and the totals; run it with
// OMP_NUM_THREADS=1 beside other jobs and read the CPU seconds.
//   build/bench_evaluation_cache RUN_DIR...   (runs with their checkpoints)
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/pinned_blas.h"
#include "bench/timing.h"
#include "taper/pipeline.h"

using namespace taper;
using taper::bench::Clock;
using taper::bench::cpu_seconds;
using taper::bench::seconds_since;

namespace {

struct Timed {
  EvalSummary summary;
  double wall = 0, cpu = 0;
};

Timed evaluate(const std::string& run_dir, const std::string& cache) {
  TrainedRun run = load_run(run_dir);  // not timed: reading checkpoints is the same both ways
  const auto t0 = Clock::now();
  const double c0 = cpu_seconds();
  Timed t{evaluate_run(run, cache)};
  t.wall = seconds_since(t0), t.cpu = cpu_seconds() - c0;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  taper::bench::pin_blas_as_taper_does(argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_evaluation_cache RUN_DIR...  (finished runs with their checkpoints)\n");
    return 2;
  }
  const std::filesystem::path cache = std::filesystem::temp_directory_path() / "bench-evaluation-cache";
  std::filesystem::remove_all(cache);
  double wall[2] = {0, 0}, cpu[2] = {0, 0};
  std::printf("%-40s %22s %22s\n", "run", "no cache: wall / CPU s", "cache: wall / CPU s");
  for (int i = 1; i < argc; ++i) {
    try {
      const Timed plain = evaluate(argv[i], ""), cached = evaluate(argv[i], cache.string());
      if (plain.summary != cached.summary) {  // every count, per domain too
        std::fprintf(stderr, "bench_evaluation_cache: %s: the cached evaluation differs\n", argv[i]);
        return 1;
      }
      std::printf("%-40s %10.1f / %8.1f %10.1f / %8.1f\n", argv[i], plain.wall, plain.cpu, cached.wall, cached.cpu);
      wall[0] += plain.wall, cpu[0] += plain.cpu, wall[1] += cached.wall, cpu[1] += cached.cpu;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_evaluation_cache: %s: %s\n", argv[i], e.what());
      return 1;
    }
  }
  std::printf("%-40s %10.1f / %8.1f %10.1f / %8.1f   (CPU %.2fx less through the cache)\n", "total", wall[0], cpu[0],
              wall[1], cpu[1], cpu[0] / cpu[1]);
  std::filesystem::remove_all(cache);
  return 0;
}
