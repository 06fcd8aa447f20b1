// Small string utilities shared by parsers, registries and error messages.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace golgi {

// Levenshtein edit distance between a and b (insert, delete, substitute each cost 1).
size_t edit_distance(std::string_view a, std::string_view b);

// Up to `max_count` candidates closest to `name` by edit distance, closest first; candidates whose
// distance exceeds max(2, |name|/2) are dropped unless they contain `name` as a substring.
std::vector<std::string> closest_names(std::string_view name, const std::vector<std::string>& candidates,
                                       size_t max_count = 3);

// "did you mean 'a', 'b'?" or "" when there is nothing close; for error messages.
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates);

// Shell-style glob on dotted names: '*' matches any run of characters except '.', '**' matches
// any run including '.', '?' matches one character. `blocks.*.mlp.hook_post` matches
// `blocks.3.mlp.hook_post` but not `blocks.3.x.mlp.hook_post`.
bool glob_match(std::string_view pattern, std::string_view name);

std::vector<std::string> split(std::string_view text, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view text, std::string_view prefix);
bool ends_with(std::string_view text, std::string_view suffix);

// Human-readable byte count: "1.5 MiB".
std::string format_bytes(double bytes);
// Human-readable duration: "1m05s", "2h03m", "850ms".
std::string format_duration(double seconds);

}  // namespace golgi
