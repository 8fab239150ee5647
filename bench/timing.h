// Timing shared by the benchmark programs under bench/.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <vector>

namespace taper::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// This process's CPU time: on a machine shared with other jobs, the CPU time
// of a one-thread run is what its wall time on an idle core would be.
inline double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// The median of v (the upper middle for an even count).
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One untimed warm-up call (first-touch page faults, the allocator, thread
// start-up), then the median() of `reps` timed calls: robust to a stray
// slow run.
template <class F>
double median_seconds(int64_t reps, F&& f) {
  f();
  std::vector<double> t;
  for (int64_t r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    f();
    t.push_back(seconds_since(t0));
  }
  return median(std::move(t));
}

}  // namespace taper::bench
