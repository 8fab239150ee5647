#include "taper/checkpoint.h"

#include <unordered_map>

#include "engine/safetensors.h"

namespace taper {

void move_state(TrainState& state, Device device) {
  std::unordered_map<const TensorImpl*, Tensor> moved;
  auto move = [&](Tensor& t, bool leaf) {
    auto it = moved.find(t.impl());
    if (it == moved.end()) {
      Tensor m = t.to(device);
      if (!m.same(t)) m = m.detach();
      if (leaf) m.set_requires_grad(true);
      it = moved.emplace(t.impl(), m).first;
    }
    t = it->second;
  };
  for (auto& [n, t] : state.params) move(t, true);
  for (auto& [n, t] : state.buffers) move(t, false);
  for (auto& [n, t] : state.momentum) move(t, false);
}

void save_state(const std::string& path, const TrainState& state, const std::map<std::string, std::string>& metadata) {
  SafetensorsFile file;
  for (const auto& [name, t] : state.params) file.tensors["params/" + name] = t.detach();
  for (const auto& [name, t] : state.buffers) file.tensors["buffers/" + name] = t.detach();
  for (const auto& [name, t] : state.momentum) file.tensors["momentum/" + name] = t.detach();
  file.metadata = metadata;
  file.metadata["epochs_done"] = std::to_string(state.epochs_done);
  save_safetensors(path, file);
}

namespace {
void restore(const SafetensorsFile& file, const std::string& path, const std::string& prefix, TensorMap& into) {
  for (auto& [name, t] : into) {
    auto it = file.tensors.find(prefix + name);
    if (it == file.tensors.end()) throw SafetensorsError(path + ": checkpoint lacks tensor '" + prefix + name + "'");
    if (it->second.shape() != t.shape() || it->second.dtype() != t.dtype()) {
      throw SafetensorsError(path + ": tensor '" + prefix + name + "' is " + it->second.shape().str() +
                             ", this run expects " + t.shape().str());
    }
    t.copy_from(it->second);
  }
}
}  // namespace

std::map<std::string, std::string> load_state(const std::string& path, TrainState& state) {
  const SafetensorsFile file = load_safetensors(path);
  restore(file, path, "params/", state.params);
  restore(file, path, "buffers/", state.buffers);
  state.momentum.clear();
  for (const auto& [name, t] : file.tensors) {
    if (name.rfind("momentum/", 0) != 0) continue;
    const std::string param = name.substr(9);
    if (!state.params.count(param)) throw SafetensorsError(path + ": momentum for unknown parameter '" + param + "'");
    state.momentum[param] = t.clone();
  }
  auto it = file.metadata.find("epochs_done");
  if (it == file.metadata.end()) throw SafetensorsError(path + ": checkpoint metadata lacks epochs_done");
  state.epochs_done = std::stoll(it->second);
  return file.metadata;
}

}  // namespace taper
