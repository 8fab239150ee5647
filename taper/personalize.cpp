#include "taper/personalize.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "engine/autograd.h"
#include "data/image.h"
#include "engine/safetensors.h"
#include "taper/classifier_selection.h"

namespace taper {

MixedNetwork mix_for_task(const Experiment& exp, const TaperModel& model, const Task& task) {
  return mix_for_description(exp, model, exp.describe(task));
}

MixedNetwork mix_for_description(const Experiment& exp, const TaperModel& model, const std::vector<float>& description) {
  NoGradGuard no_grad;
  check_arg(static_cast<int64_t>(description.size()) == exp.predictor.description_dim(), "personalize", [&] {
    return "a description of " + std::to_string(description.size()) + " values; the mixer predictor reads " +
           std::to_string(exp.predictor.description_dim());
  });
  TensorMap pred_buffers = model.predictor_buffers;
  const Tensor d = Tensor::from_vector(description, {1, static_cast<int64_t>(description.size())}).to(exp.device);
  MixedNetwork m;
  m.mixers = exp.predictor.mixers(model.predictor_params, pred_buffers, d, false)[0];
  for (const auto& [n, t] : mix_parameters(exp.arch, exp.layout, model.bases, m.mixers)) m.params[n] = t.detach();
  m.buffers = mix_buffers(exp.arch, exp.layout, model.bases, m.mixers);
  return m;
}

PersonalizedModel personalize(const Experiment& exp, const TaperModel& model, const Task& task) {
  return personalize(exp, model, task, exp.describe(task));
}

PersonalizedModel personalize(const Experiment& exp, const TaperModel& model, const Task& task,
                              const std::vector<float>& description) {
  MixedNetwork m = mix_for_description(exp, model, description);
  PersonalizedModel out;
  out.arch = exp.arch.config();
  out.arch.num_classes = static_cast<int64_t>(task.classes.size());
  out.params = std::move(m.params);
  out.buffers = std::move(m.buffers);
  select_classifier_rows(out.params, task.classes);
  for (int64_t c : task.classes) out.class_names.push_back(exp.train->meta.class_names.at(c));
  for (const Tensor& a : m.mixers) out.mixers.push_back(a.to_vector());
  if (task.domain >= 0) out.domain = exp.train->meta.domain_names.at(task.domain);
  out.input_size = exp.image_height;
  out.preprocessing = exp.resized_crops() ? "imagenet" : "cifar";
  return out;
}

void save_personalized(const std::string& path, const PersonalizedModel& model) {
  SafetensorsFile file;
  for (const auto& [n, t] : model.params) file.tensors[n] = t;
  for (const auto& [n, t] : model.buffers) file.tensors[n] = t;
  file.metadata["format"] = "taper-personalized-resnet/1";
  file.metadata["arch"] = model.arch.arch;
  file.metadata["stem"] = model.arch.stem;
  file.metadata["width"] = std::to_string(model.arch.width);
  file.metadata["classes"] = nlohmann::json(model.class_names).dump();
  file.metadata["mixers"] = nlohmann::json(model.mixers).dump();
  file.metadata["domain"] = model.domain;
  file.metadata["input_size"] = std::to_string(model.input_size);
  file.metadata["preprocessing"] = model.preprocessing;
  save_safetensors(path, file);
}

namespace {
const std::string& require(const SafetensorsFile& f, const std::string& path, const std::string& key) {
  auto it = f.metadata.find(key);
  if (it == f.metadata.end()) {
    throw SafetensorsError(path + ": metadata lacks '" + key + "' (not a personalized model written by taper?)");
  }
  return it->second;
}
}  // namespace

PersonalizedModel load_personalized(const std::string& path) {
  const SafetensorsFile f = load_safetensors(path);
  if (require(f, path, "format") != "taper-personalized-resnet/1") {
    throw SafetensorsError(path + ": unknown format '" + f.metadata.at("format") + "'");
  }
  PersonalizedModel m;
  try {
    m.arch.arch = require(f, path, "arch");
    m.arch.stem = require(f, path, "stem");
    m.arch.width = std::stod(require(f, path, "width"));
    m.input_size = std::stoll(require(f, path, "input_size"));
    if (m.input_size < 1 || m.input_size > kMaxImageSide) throw std::out_of_range("input_size");
    m.class_names = nlohmann::json::parse(require(f, path, "classes")).get<std::vector<std::string>>();
    m.mixers = nlohmann::json::parse(require(f, path, "mixers")).get<std::vector<std::vector<float>>>();
  } catch (const std::exception& e) {
    if (dynamic_cast<const SafetensorsError*>(&e)) throw;
    throw SafetensorsError(path + ": malformed metadata: " + e.what());
  }
  m.domain = f.metadata.count("domain") ? f.metadata.at("domain") : "";
  // Files written before ImageNet-style data have no key: CIFAR-style.
  m.preprocessing = f.metadata.count("preprocessing") ? f.metadata.at("preprocessing") : "cifar";
  if (m.preprocessing != "cifar" && m.preprocessing != "imagenet") {
    throw SafetensorsError(path + ": metadata 'preprocessing' is '" + m.preprocessing + "', expected cifar or imagenet");
  }
  m.arch.num_classes = static_cast<int64_t>(m.class_names.size());
  std::optional<ResNet> built;
  try {
    built.emplace(m.arch);
  } catch (const std::invalid_argument& e) {
    throw SafetensorsError(path + ": metadata names an impossible network: " + e.what());
  }
  const ResNet& net = *built;
  auto take = [&](const std::vector<TensorSpec>& specs, TensorMap& into) {
    for (const TensorSpec& s : specs) {
      auto it = f.tensors.find(s.name);
      if (it == f.tensors.end() || it->second.shape() != s.shape || it->second.dtype() != DType::F32) {
        throw SafetensorsError(path + ": tensor '" + s.name + "' " +
                               (it == f.tensors.end() ? "is missing"
                                                       : std::string("is ") + dtype_name(it->second.dtype()) + " " +
                                                             it->second.shape().str()) +
                               ", " +
                               m.arch.arch + " with " + std::to_string(m.arch.num_classes) + " classes needs " +
                               "F32 " + s.shape.str());
      }
      into[s.name] = it->second;
    }
  };
  take(net.parameters(), m.params);
  take(net.buffers(), m.buffers);
  return m;
}

}  // namespace taper
