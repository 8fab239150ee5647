#include "taper/svg_figure.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace taper {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

std::string num(double v, int digits = 1) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

void text_at(std::ostringstream& o, double x, double y, const std::string& s, const char* anchor = "middle",
             int size = 12, double rotate = 0) {
  o << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" font-size=\"" << size << "\" text-anchor=\"" << anchor
    << "\" font-family=\"sans-serif\"";
  if (rotate != 0) o << " transform=\"rotate(" << rotate << ' ' << num(x) << ' ' << num(y) << ")\"";
  o << '>' << escape(s) << "</text>\n";
}

// A stroke-dasharray attribute, or nothing for a solid line.
void dash_attribute(std::ostringstream& o, const std::string& dash) {
  if (!dash.empty()) o << " stroke-dasharray=\"" << dash << '"';
}

void line(std::ostringstream& o, double x1, double y1, double x2, double y2, const std::string& colour,
          double width = 1, const std::string& dash = "") {
  o << "<line x1=\"" << num(x1) << "\" y1=\"" << num(y1) << "\" x2=\"" << num(x2) << "\" y2=\"" << num(y2)
    << "\" stroke=\"" << colour << "\" stroke-width=\"" << width << '"';
  dash_attribute(o, dash);
  o << "/>\n";
}

// Tick spacing of about `count` steps over [lo, hi]: 1, 2 or 5 times a power of ten.
double nice_step(double lo, double hi, int count) {
  const double raw = std::max(hi - lo, 1e-9) / count;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

}  // namespace

std::string line_chart_svg(const ChartText& text, const std::vector<Series>& series) {
  const double W = 640, H = 420, left = 70, right = 190, top = 40, bottom = 60;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const Series& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      const double e = s.err.empty() ? 0.0 : s.err[i];
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i] - e), y1 = std::max(y1, s.y[i] + e);
    }
  }
  if (x0 > x1) throw std::invalid_argument("line_chart_svg: no points");
  const double ystep = nice_step(y0, y1, 6);
  y0 = std::floor(y0 / ystep) * ystep, y1 = std::ceil(y1 / ystep) * ystep;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + ystep;
  const double pw = W - left - right, ph = H - top - bottom;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  text_at(o, W / 2, 22, text.title, "middle", 14);
  for (double y = y0; y <= y1 + 1e-9; y += ystep) {
    line(o, left, py(y), left + pw, py(y), "#dddddd");
    text_at(o, left - 6, py(y) + 4, num(y, ystep < 1 ? 2 : 0), "end", 11);
  }
  const double xstep = std::max(1.0, nice_step(x0, x1, 8));
  for (double x = x0; x <= x1 + 1e-9; x += xstep) text_at(o, px(x), top + ph + 16, num(x, 0), "middle", 11);
  line(o, left, top + ph, left + pw, top + ph, "black");
  line(o, left, top, left, top + ph, "black");
  text_at(o, left + pw / 2, H - 18, text.x_label);
  text_at(o, 18, top + ph / 2, text.y_label, "middle", 12, -90);
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string colour = kColours[k % std::size(kColours)];
    o << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\"";
    dash_attribute(o, s.dash);
    o << " points=\"";
    for (size_t i = 0; i < s.x.size(); ++i) o << num(px(s.x[i])) << ',' << num(py(s.y[i])) << ' ';
    o << "\"/>\n";
    for (size_t i = 0; i < s.x.size(); ++i) {
      o << "<circle cx=\"" << num(px(s.x[i])) << "\" cy=\"" << num(py(s.y[i])) << "\" r=\"3\" fill=\"" << colour
        << "\"/>\n";
      if (!s.err.empty() && s.err[i] > 0) {
        line(o, px(s.x[i]), py(s.y[i] - s.err[i]), px(s.x[i]), py(s.y[i] + s.err[i]), colour);
      }
    }
    const double ly = top + 10 + 20 * k;
    line(o, left + pw + 12, ly, left + pw + 32, ly, colour, 2, s.dash);
    text_at(o, left + pw + 38, ly + 4, s.name, "start", 11);
  }
  o << "</svg>\n";
  return o.str();
}

std::string heatmap_svg(const ChartText& text, const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& col_labels, const std::vector<std::vector<double>>& values,
                        double lo, double hi) {
  const size_t rows = values.size(), cols = rows ? values[0].size() : 0;
  if (rows == 0 || cols == 0) throw std::invalid_argument("heatmap_svg: empty matrix");
  const double cell = std::clamp(520.0 / std::max(rows, cols), 6.0, 48.0);
  const double left = 170, top = 50, bottom = 70;
  const double W = left + cols * cell + 90, H = top + rows * cell + bottom;
  const bool labels_fit = cell >= 30;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(W, 0) << "\" height=\"" << num(H, 0) << "\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  text_at(o, W / 2, 22, text.title, "middle", 14);
  auto colour = [&](double v) {
    const double t = std::clamp((v - lo) / std::max(hi - lo, 1e-12), 0.0, 1.0);
    char buf[16];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", int(255 - t * 247), int(255 - t * 207), int(255 - t * 148));
    return std::string(buf);
  };
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      const double x = left + c * cell, y = top + r * cell;
      o << "<rect x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(cell) << "\" height=\"" << num(cell)
        << "\" fill=\"" << colour(values[r][c]) << "\"/>\n";
      if (labels_fit) {
        const bool dark = (values[r][c] - lo) / std::max(hi - lo, 1e-12) > 0.6;
        o << "<text x=\"" << num(x + cell / 2) << "\" y=\"" << num(y + cell / 2 + 4)
          << "\" font-size=\"10\" text-anchor=\"middle\" font-family=\"sans-serif\" fill=\""
          << (dark ? "white" : "black") << "\">" << num(values[r][c], 2) << "</text>\n";
      }
    }
    if (r < row_labels.size() && (cell >= 10 || r % 2 == 0)) {
      text_at(o, left - 6, top + r * cell + cell / 2 + 4, row_labels[r], "end", cell >= 10 ? 11 : 8);
    }
  }
  for (size_t c = 0; c < cols && c < col_labels.size(); ++c) {
    text_at(o, left + c * cell + cell / 2, top + rows * cell + 14, col_labels[c], "end", 10, -45);
  }
  text_at(o, W / 2, H - 12, text.x_label);
  // Colour scale.
  const double sx = left + cols * cell + 30, sh = rows * cell;
  for (int i = 0; i < 20; ++i) {
    o << "<rect x=\"" << num(sx) << "\" y=\"" << num(top + sh * (19 - i) / 20.0) << "\" width=\"14\" height=\""
      << num(sh / 20.0 + 0.5) << "\" fill=\"" << colour(lo + (hi - lo) * (i + 0.5) / 20.0) << "\"/>\n";
  }
  text_at(o, sx + 18, top + 8, num(hi, 2), "start", 10);
  text_at(o, sx + 18, top + sh, num(lo, 2), "start", 10);
  o << "</svg>\n";
  return o.str();
}

void write_text_file(const std::string& path, const std::string& text) {
  std::error_code ec;
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error(path + ": cannot write (is the folder writable and the disk not full?)");
}

}  // namespace taper
