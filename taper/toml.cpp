#include "taper/toml.h"

namespace taper {
namespace {

enum class Lexeme { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral };

bool starts(std::string_view text, size_t i, std::string_view what) { return text.substr(i, what.size()) == what; }

// Past a closing ''' or """ at i, with the one or two quotes TOML allows
// right before it counted as content; returns the index of its last quote.
size_t close_multiline(std::string_view text, size_t i, char quote) {
  size_t end = i + 2;
  for (int extra = 0; extra < 2 && end + 1 < text.size() && text[end + 1] == quote; ++extra) ++end;
  return end;
}

// A quote opens a string only where TOML allows one: at the start of a line
// (a quoted key) or after '=', '[', ',', '{' or '.' and blanks. Elsewhere
// (inside a bare word, as in `x = 1a"...`) toml++ reads the quote and what
// follows as bare characters, and its whitespace test reaches
// __builtin_unreachable on many non-ASCII characters (fuzz_config), so the
// scanner does too: such a "string" does not shield non-ASCII text.
bool may_open_string(std::string_view text, size_t i, size_t line_start) {
  while (i > line_start && (text[i - 1] == ' ' || text[i - 1] == '\t')) --i;
  if (i == line_start) return true;
  const char before = text[i - 1];
  return before == '=' || before == '[' || before == ',' || before == '{' || before == '.';
}

}  // namespace

std::optional<TomlHazard> toml_hazard(std::string_view text) {
  Lexeme state = Lexeme::kCode;
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const auto hazard = [&](const char* what) { return TomlHazard{line, i - line_start + 1, what}; };
    if (c == 0) return hazard("a NUL byte (is this a binary file?)");
    if (c == '\n') {
      ++line;
      line_start = i + 1;
      if (state == Lexeme::kComment || state == Lexeme::kBasic || state == Lexeme::kLiteral) state = Lexeme::kCode;
      continue;
    }
    switch (state) {
      case Lexeme::kCode:
        if (c >= 0x80) return hazard("a non-ASCII character outside a string or comment");
        if (c == '#') state = Lexeme::kComment;
        if ((c == '"' || c == '\'') && !may_open_string(text, i, line_start)) break;
        if (c == '"') state = starts(text, i, "\"\"\"") ? (i += 2, Lexeme::kMultiBasic) : Lexeme::kBasic;
        if (c == '\'') state = starts(text, i, "'''") ? (i += 2, Lexeme::kMultiLiteral) : Lexeme::kLiteral;
        break;
      case Lexeme::kComment:
        break;
      case Lexeme::kBasic:
      case Lexeme::kMultiBasic:
        if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
          ++i;  // an escaped character, e.g. \" (a backslash before a newline continues the line)
        } else if (state == Lexeme::kBasic ? c == '"' : starts(text, i, "\"\"\"")) {
          if (state == Lexeme::kMultiBasic) i = close_multiline(text, i, '"');
          state = Lexeme::kCode;
        }
        break;
      case Lexeme::kLiteral:
        if (c == '\'') state = Lexeme::kCode;
        break;
      case Lexeme::kMultiLiteral:
        if (starts(text, i, "'''")) {
          i = close_multiline(text, i, '\'');
          state = Lexeme::kCode;
        }
        break;
    }
  }
  return std::nullopt;
}

}  // namespace taper
