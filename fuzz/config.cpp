// libFuzzer target: TOML run configs (taper/config.cpp, toml++ underneath).
// Every input must parse into a config or throw ConfigError, and an accepted
// config must round-trip: parse_config(to_toml(c)) == c, as config.h promises
// (that is what makes a run directory's config.toml the run's config).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "taper/config.h"

using namespace taper;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  RunConfig config;
  try {
    config = parse_config(text, "fuzz.toml");
  } catch (const ConfigError&) {
    return 0;
  }
  if (!(parse_config(to_toml(config), "fuzz.toml") == config)) std::abort();
  return 0;
}
