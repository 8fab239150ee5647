#include "data/preview.h"

#include <algorithm>
#include <stdexcept>

namespace taper {

std::vector<std::vector<Image>> domain_preview_rows(const Dataset& d, int64_t columns) {
  const int64_t classes = d.meta.num_classes();
  if (columns < 1 || d.size() == 0 || classes == 0) {
    throw std::invalid_argument("domain_preview_rows: need columns >= 1 and a dataset with images");
  }
  columns = std::min(columns, classes);
  const int64_t domains = std::max<int64_t>(1, static_cast<int64_t>(d.meta.domain_names.size()));
  // first[domain][column]: the image shown there, -1 while none is found.
  std::vector<std::vector<int64_t>> first(domains, std::vector<int64_t>(columns, -1));
  std::vector<int64_t> column_of(classes, -1);
  for (int64_t c = 0; c < columns; ++c) column_of[c * classes / columns] = c;
  for (int64_t i = d.size() - 1; i >= 0; --i) {
    const int64_t c = column_of[d.labels[i]], dom = d.domains.empty() ? 0 : d.domains[i];
    if (c >= 0 && dom < domains) first[dom][c] = i;
  }
  std::vector<std::vector<Image>> rows(domains);
  for (int64_t dom = 0; dom < domains; ++dom) {
    for (int64_t i : first[dom]) {
      if (i >= 0) rows[dom].push_back(d.images->image(i));
    }
  }
  return rows;
}

Image preview_grid(const std::vector<std::vector<Image>>& rows, int64_t scale) {
  if (rows.empty() || scale < 1) throw std::invalid_argument("preview_grid: need rows and scale >= 1");
  int64_t cell_h = 0, cell_w = 0, columns = 0;
  for (const auto& row : rows) {
    columns = std::max<int64_t>(columns, int64_t(row.size()));
    for (const Image& im : row) {
      if (im.channels != 3) throw std::invalid_argument("preview_grid: images must be RGB");
      cell_h = std::max(cell_h, im.height * scale);
      cell_w = std::max(cell_w, im.width * scale);
    }
  }
  if (columns == 0) throw std::invalid_argument("preview_grid: every row is empty");
  const int64_t gap = 4;
  Image out(int64_t(rows.size()) * (cell_h + gap) + gap, columns * (cell_w + gap) + gap);
  std::fill(out.pixels.begin(), out.pixels.end(), uint8_t{128});
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const Image& im = rows[r][c];
      const int64_t top = gap + int64_t(r) * (cell_h + gap), left = gap + int64_t(c) * (cell_w + gap);
      for (int64_t y = 0; y < im.height * scale; ++y)
        for (int64_t x = 0; x < im.width * scale; ++x)
          std::copy_n(im.at(y / scale, x / scale), 3, out.at(top + y, left + x));
    }
  return out;
}

}  // namespace taper
