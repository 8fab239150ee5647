// A short name for a text's content (FNV-1a 64, as 16 hex digits): run
// folders of the harness, cache files of text embeddings. Not cryptographic.
#pragma once

#include <string>

namespace taper {

std::string content_hash(const std::string& text);

}  // namespace taper
