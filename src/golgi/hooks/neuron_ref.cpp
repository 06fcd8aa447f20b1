#include "golgi/hooks/neuron_ref.h"

#include <cerrno>
#include <cstdlib>

#include "golgi/core/error.h"
#include "golgi/core/strings.h"
#include "golgi/hooks/hooked_module.h"

namespace golgi::hooks {

namespace {
constexpr const char* kSyntax = "expected HOOK:INDEX[@POS[,POS...]], e.g. 'conv2.hook_post:12' or 'conv2.hook_post:12@3,4'";

int64_t parse_count(const std::string& text, const std::string& whole, const char* what) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  GOLGI_CHECK(!text.empty() && *end == '\0' && errno == 0 && v >= 0, "bad neuron reference '", whole, "': ",
              what, " '", text, "' is not a non-negative integer; ", kSyntax);
  return v;
}
}  // namespace

NeuronRef NeuronRef::parse(const std::string& text) {
  auto colon = text.rfind(':');
  GOLGI_CHECK(colon != std::string::npos && colon > 0, "bad neuron reference '", text, "': ", kSyntax);
  NeuronRef ref;
  ref.hook = text.substr(0, colon);
  std::string rest = text.substr(colon + 1);
  auto at = rest.find('@');
  ref.index = parse_count(rest.substr(0, at), text, "index");
  if (at != std::string::npos) {
    for (const auto& part : split(rest.substr(at + 1), ',')) ref.position.push_back(parse_count(part, text, "position"));
  }
  return ref;
}

std::string NeuronRef::str() const {
  std::string out = hook + ":" + std::to_string(index);
  for (size_t i = 0; i < position.size(); ++i) out += (i ? "," : "@") + std::to_string(position[i]);
  return out;
}

void validate(const NeuronRef& ref, const HookedModule& model, const std::vector<int64_t>& activation_shape) {
  const HookPointImpl& point = model.hook_point(ref.hook);
  if (activation_shape.empty()) return;
  int64_t rank = static_cast<int64_t>(activation_shape.size());
  int64_t dim = point.neuron_dim_for_rank(rank);
  GOLGI_CHECK(ref.index < activation_shape[dim], "neuron reference '", ref.str(), "': index ", ref.index,
              " out of range; '", ref.hook, "' has ", activation_shape[dim], " neurons (0..",
              activation_shape[dim] - 1, ")");
  // Positions index the non-batch, non-neuron dimensions.
  std::vector<int64_t> position_dims;
  for (int64_t d = 1; d < rank; ++d)
    if (d != dim) position_dims.push_back(d);
  GOLGI_CHECK(ref.position.empty() || ref.position.size() == position_dims.size(), "neuron reference '",
              ref.str(), "' gives ", ref.position.size(), " position(s) but '", ref.hook, "' has ",
              position_dims.size(), " position dimension(s) ", point.shape());
  for (size_t i = 0; i < ref.position.size(); ++i)
    GOLGI_CHECK(ref.position[i] < activation_shape[position_dims[i]], "neuron reference '", ref.str(),
                "': position ", ref.position[i], " out of range (size ", activation_shape[position_dims[i]], ")");
}

}  // namespace golgi::hooks
