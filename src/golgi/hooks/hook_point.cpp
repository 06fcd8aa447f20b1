#include "golgi/hooks/hook_point.h"

#include <algorithm>

#include "golgi/core/error.h"

namespace golgi::hooks {

HookPointImpl::HookPointImpl(std::string shape, int64_t neuron_dim)
    : shape_(std::move(shape)), neuron_dim_(neuron_dim) {}

int64_t HookPointImpl::neuron_dim_for_rank(int64_t rank) const {
  int64_t dim = neuron_dim_ < 0 ? neuron_dim_ + rank : neuron_dim_;
  GOLGI_CHECK(dim >= 0 && dim < rank, "hook point '", name_, "' declares neuron dimension ", neuron_dim_,
              " but its activation has rank ", rank);
  return dim;
}

HookId HookPointImpl::add_hook(HookFn fn) {
  GOLGI_ASSERT(fn, "empty hook function for '", name_, "'");
  HookId id = next_id_++;
  hooks_.emplace_back(id, std::move(fn));
  return id;
}

void HookPointImpl::remove_hook(HookId id) {
  hooks_.erase(std::remove_if(hooks_.begin(), hooks_.end(), [id](const auto& h) { return h.first == id; }),
               hooks_.end());
}

at::Tensor HookPointImpl::run_hooks(const at::Tensor& activation) {
  at::Tensor current = activation;
  // Copy the list: a hook may remove itself (or others) while running.
  auto hooks = hooks_;
  for (auto& [id, fn] : hooks) {
    at::Tensor replacement = fn(current, *this);
    if (replacement.defined()) {
      GOLGI_CHECK(replacement.sizes() == current.sizes(), "a hook on '", name_, "' returned shape ",
                  replacement.sizes(), " but the activation has shape ", current.sizes(),
                  "; replacements must keep the shape");
      current = replacement;
    }
  }
  return current;
}

}  // namespace golgi::hooks
