#include "data/pacs.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>

#include "data/file_io.h"
#include "data/image_folder.h"

namespace taper {
namespace {

namespace fs = std::filesystem;

struct SplitEntry {
  std::string path;  // relative to the dataset folder
  std::string split;
  int64_t domain = 0, label = 0;
};

int64_t index_of(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int64_t>(it - names.begin());
}

// Domains are the sub-folders of dir; every domain must hold the same classes.
void read_folders(const std::string& dir, ClassMetadata* meta) {
  meta->domain_names = list_subfolders(dir);
  if (meta->domain_names.empty()) throw DataError(dir + ": no domain folders");
  meta->class_names = list_subfolders(join_path(dir, meta->domain_names[0]));
  if (meta->class_names.empty()) throw DataError(join_path(dir, meta->domain_names[0]) + ": no class folders");
  for (const std::string& domain : meta->domain_names) {
    if (list_subfolders(join_path(dir, domain)) != meta->class_names) {
      throw DataError(join_path(dir, domain) + ": class folders differ from those of " + meta->domain_names[0]);
    }
  }
}

// One split.tsv line, checked against the folders and the file system.
SplitEntry parse_line(const std::string& dir, const std::string& line, const std::string& where,
                      const ClassMetadata& meta) {
  const size_t tab = line.find('\t');
  if (tab == std::string::npos) throw DataError(where + ": expected '<domain>/<class>/<file><TAB>train|test'");
  SplitEntry entry{line.substr(0, tab), line.substr(tab + 1)};
  if (entry.split != "train" && entry.split != "test") {
    throw DataError(where + ": split '" + entry.split + "' is not train or test");
  }
  const fs::path path(entry.path);
  const std::vector<std::string> parts(path.begin(), path.end());
  if (parts.size() != 3) throw DataError(where + ": path '" + entry.path + "' is not <domain>/<class>/<file>");
  entry.domain = index_of(meta.domain_names, parts[0]);
  entry.label = index_of(meta.class_names, parts[1]);
  if (entry.domain < 0) throw DataError(where + ": unknown domain '" + parts[0] + "'");
  if (entry.label < 0) throw DataError(where + ": unknown class '" + parts[1] + "'");
  std::error_code error;
  if (!fs::is_regular_file(join_path(dir, entry.path), error)) {
    throw DataError(where + ": " + join_path(dir, entry.path) + " does not exist");
  }
  return entry;
}

std::vector<SplitEntry> read_split_file(const std::string& dir, const ClassMetadata& meta) {
  const std::string path = join_path(dir, "split.tsv");
  const std::vector<std::string> lines = read_text_lines(path);
  if (lines.empty() || lines[0] != "path\tsplit") {
    throw DataError(path + ": line 1: expected the header 'path<TAB>split'");
  }
  std::vector<SplitEntry> entries;
  std::map<std::string, size_t> line_of;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string where = path + ": line " + std::to_string(i + 1);
    entries.push_back(parse_line(dir, lines[i], where, meta));
    const auto [it, fresh] = line_of.emplace(entries.back().path, i + 1);
    if (!fresh) throw DataError(where + ": " + it->first + " is already listed on line " + std::to_string(it->second));
  }
  return entries;
}

// Every image in the folders must have a split.
void check_all_listed(const std::string& dir, const ClassMetadata& meta, const std::vector<SplitEntry>& entries) {
  std::set<std::string> listed;
  for (const SplitEntry& entry : entries) listed.insert(entry.path);
  for (const std::string& domain : meta.domain_names) {
    for (const std::string& name : meta.class_names) {
      const std::string folder = domain + "/" + name;
      for (const std::string& file : list_image_files(join_path(dir, folder))) {
        if (listed.count(folder + "/" + file) == 0) {
          throw DataError(join_path(dir, "split.tsv") + ": does not list " + folder + "/" + file);
        }
      }
    }
  }
}

}  // namespace

Dataset load_pacs(const std::string& dir, const std::string& split) {
  if (split != "train" && split != "test" && split != "all") {
    throw std::invalid_argument("load_pacs: split '" + split + "' is not train, test or all");
  }
  Dataset data;
  data.name = "pacs";
  data.split = split;
  read_folders(dir, &data.meta);
  const std::vector<SplitEntry> entries = read_split_file(dir, data.meta);
  check_all_listed(dir, data.meta, entries);
  std::vector<std::string> paths;
  for (const SplitEntry& entry : entries) {
    if (split != "all" && entry.split != split) continue;
    paths.push_back(join_path(dir, entry.path));
    data.labels.push_back(entry.label);
    data.domains.push_back(entry.domain);
  }
  data.images = decode_all(paths);
  return data;
}

}  // namespace taper
