// A one-line terminal progress bar: done/total, rate, ETA and free-form
// metrics, redrawn in place on a terminal and printed as plain lines
// (about one a second) when the output is a file or pipe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace taper {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit = "it");
  // Sets the done count and the metrics text ("loss 0.42 acc 0.91").
  void update(int64_t done, const std::string& metrics);
  void finish(const std::string& metrics);

 private:
  void draw(bool final_line);
  std::string label_, unit_, metrics_;
  int64_t total_, done_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace taper
