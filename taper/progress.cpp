#include "taper/progress.h"

#include <unistd.h>

#include <cstdio>

namespace taper {

std::string format_duration(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s % 3600 / 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", s);
  }
  return buf;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(isatty(fileno(stderr))) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void ProgressBar::update(int64_t done, const std::string& metrics) {
  done_ = done;
  metrics_ = metrics;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  // The last step's line is finish()'s; a log file gets at most one line a second.
  if (since >= (tty_ ? 0.1 : 1.0) && done_ < total_) draw(false);
}

void ProgressBar::finish(const std::string& metrics) {
  done_ = total_;
  metrics_ = metrics;
  draw(true);
}

void ProgressBar::draw(bool final_line) {
  last_draw_ = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(last_draw_ - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  const double eta = rate > 0 ? (total_ - done_) / rate : 0.0;
  constexpr int kWidth = 24;
  const int filled = total_ > 0 ? static_cast<int>(kWidth * done_ / total_) : kWidth;
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "%s%s [%s] %lld/%lld  %.1f %s/s  %s %s  %s%s", tty_ ? "\r\033[K" : "", label_.c_str(),
               bar.c_str(), static_cast<long long>(done_), static_cast<long long>(total_), rate, unit_.c_str(),
               final_line ? "took" : "ETA", format_duration(final_line ? elapsed : eta).c_str(), metrics_.c_str(),
               tty_ && !final_line ? "" : "\n");
  std::fflush(stderr);
}

}  // namespace taper
