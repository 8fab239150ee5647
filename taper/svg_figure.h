// The harness's figures as SVG (text, axes and legends stay crisp, and the
// files diff in review): a line chart with error bars (Figure 3) and a
// heatmap with a colour scale (Figure 4's mixers and basis similarities).
#pragma once

#include <string>
#include <vector>

namespace taper {

struct Series {
  std::string name;
  std::vector<double> x, y, err;  // err: half-heights of the error bars (empty: none)
  // An SVG stroke-dasharray ("6,4"), empty for a solid line. Reference lines
  // get different dashes, so one that runs on top of another stays visible.
  std::string dash;
};

struct ChartText {
  std::string title, x_label, y_label;
};

std::string line_chart_svg(const ChartText& text, const std::vector<Series>& series);

// values[r][c], coloured from `lo` (white) to `hi` (dark blue); each cell
// prints its value when the grid is small enough to read.
std::string heatmap_svg(const ChartText& text, const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& col_labels, const std::vector<std::vector<double>>& values,
                        double lo, double hi);

// Writes text to path (creating folders); throws naming the path on failure.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace taper
