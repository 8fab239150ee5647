#include "data/domainnet.h"

#include <filesystem>
#include <map>
#include <stdexcept>

#include "data/file_io.h"

namespace taper {
namespace {

namespace fs = std::filesystem;

// label <-> class name, one to one over every line read.
class ClassNames {
 public:
  void add(int64_t label, const std::string& name, const std::string& where) {
    const auto [by_label, fresh_label] = name_of_.emplace(label, name);
    if (by_label->second != name) {
      throw DataError(where + ": label " + std::to_string(label) + " is class '" + name + "' here but '" +
                      by_label->second + "' elsewhere");
    }
    const auto [by_name, fresh_name] = label_of_.emplace(name, label);
    if (by_name->second != label) {
      throw DataError(where + ": class '" + name + "' has label " + std::to_string(label) + " here but " +
                      std::to_string(by_name->second) + " elsewhere");
    }
  }

  // Names by label; the labels must be 0..N-1 without gaps.
  std::vector<std::string> finish(const std::string& dir) const {
    std::vector<std::string> names;
    for (const auto& [label, name] : name_of_) {
      if (label != static_cast<int64_t>(names.size())) {
        throw DataError(dir + ": no list line has label " + std::to_string(names.size()) + " (labels must be 0..N-1)");
      }
      names.push_back(name);
    }
    return names;
  }

 private:
  std::map<int64_t, std::string> name_of_;
  std::map<std::string, int64_t> label_of_;
};

struct ListLine {
  std::string path;  // relative to the dataset folder
  int64_t label;
  std::string class_name;
};

ListLine parse_line(const std::string& line, const std::string& domain, const std::string& where) {
  const size_t space = line.rfind(' ');
  ListLine out{line.substr(0, space == std::string::npos ? 0 : space), 0, ""};
  if (space == std::string::npos || !parse_int(line.substr(space + 1), &out.label)) {
    throw DataError(where + ": expected '<domain>/<class>/<file> <label>'");
  }
  const fs::path path(out.path);
  const std::vector<std::string> parts(path.begin(), path.end());
  if (parts.size() != 3 || parts[0] != domain) {
    throw DataError(where + ": path '" + out.path + "' is not " + domain + "/<class>/<file>");
  }
  out.class_name = parts[1];
  return out;
}

}  // namespace

const std::vector<std::string>& domainnet_domains() {
  static const std::vector<std::string> domains = {"clipart", "infograph", "painting", "quickdraw", "real", "sketch"};
  return domains;
}

Dataset load_domainnet(const std::string& dir, const std::string& split, const std::vector<std::string>& domains) {
  if (split != "train" && split != "test") {
    throw std::invalid_argument("load_domainnet: split '" + split + "' is not train or test");
  }
  if (domains.empty()) throw std::invalid_argument("load_domainnet: no domains");
  Dataset data;
  data.name = "domainnet";
  data.split = split;
  data.meta.domain_names = domains;
  ClassNames classes;
  std::vector<std::string> paths;
  for (size_t d = 0; d < domains.size(); ++d) {
    const std::string list = join_path(dir, domains[d] + "_" + split + ".txt");
    const std::vector<std::string> lines = read_text_lines(list);
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string where = list + ": line " + std::to_string(i + 1);
      const ListLine line = parse_line(lines[i], domains[d], where);
      classes.add(line.label, line.class_name, where);
      std::error_code error;
      if (!fs::is_regular_file(join_path(dir, line.path), error)) {
        throw DataError(where + ": " + join_path(dir, line.path) + " does not exist");
      }
      paths.push_back(join_path(dir, line.path));
      data.labels.push_back(line.label);
      data.domains.push_back(static_cast<int64_t>(d));
    }
  }
  data.meta.class_names = classes.finish(dir);
  data.images = std::make_shared<FileImageStore>(std::move(paths));
  return data;
}

}  // namespace taper
