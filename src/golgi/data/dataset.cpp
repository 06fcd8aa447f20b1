#include "golgi/data/dataset.h"

#include <cmath>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"

namespace golgi::data {

Dataset::Dataset(std::string name, std::string split, at::Tensor inputs, at::Tensor targets, Json card)
    : name_(std::move(name)), split_(std::move(split)), inputs_(std::move(inputs)), targets_(std::move(targets)),
      card_(std::move(card)) {
  GOLGI_CHECK(inputs_.dim() >= 1 && targets_.dim() == 1 && inputs_.size(0) == targets_.size(0), "dataset '", name_,
              "': inputs ", inputs_.sizes(), " and targets ", targets_.sizes(), " disagree on the number of samples");
  targets_ = targets_.to(torch::kLong);
  num_classes_ = targets_.numel() ? targets_.max().item<int64_t>() + 1 : 0;
}

int64_t Dataset::size() const { return inputs_.size(0); }

std::vector<int64_t> Dataset::sample_shape() const {
  auto s = inputs_.sizes().vec();
  return {s.begin() + 1, s.end()};
}

Batch Dataset::batch(const std::vector<int64_t>& ids) const {
  at::Tensor index = torch::tensor(ids, torch::kLong);
  return {inputs_.index_select(0, index), targets_.index_select(0, index), index};
}

Batch Dataset::range(int64_t begin, int64_t end) const {
  GOLGI_CHECK(0 <= begin && begin <= end && end <= size(), "range [", begin, ", ", end, ") is outside dataset '",
              name_, "' of ", size(), " samples");
  return {inputs_.slice(0, begin, end), targets_.slice(0, begin, end), torch::arange(begin, end, torch::kLong)};
}

std::shared_ptr<Dataset> Dataset::head(int64_t n) const {
  GOLGI_CHECK(n >= 0 && n <= size(), "asked for ", n, " samples but dataset '", name_, "' (", split_, ") has ",
              size());
  return std::make_shared<Dataset>(name_, split_, inputs_.slice(0, 0, n), targets_.slice(0, 0, n), card_);
}

std::pair<std::shared_ptr<Dataset>, std::shared_ptr<Dataset>> Dataset::split_by(double fraction, uint64_t seed,
                                                                                  const std::string& first_name,
                                                                                  const std::string& second_name) const {
  GOLGI_CHECK(fraction > 0 && fraction < 1, "split fraction must be in (0, 1), got ", fraction);
  auto order = permutation(size(), derive_seed(seed, "split"));
  auto n_first = static_cast<int64_t>(std::llround(fraction * size()));
  std::vector<int64_t> a(order.begin(), order.begin() + n_first), b(order.begin() + n_first, order.end());
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  auto ia = torch::tensor(a, torch::kLong), ib = torch::tensor(b, torch::kLong);
  return {std::make_shared<Dataset>(name_, first_name, inputs_.index_select(0, ia), targets_.index_select(0, ia), card_),
          std::make_shared<Dataset>(name_, second_name, inputs_.index_select(0, ib), targets_.index_select(0, ib), card_)};
}

std::vector<int64_t> epoch_order(int64_t size, uint64_t seed, int64_t epoch, bool shuffle) {
  if (shuffle) return permutation(size, derive_seed(seed, "order", static_cast<uint64_t>(epoch)));
  std::vector<int64_t> order(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) order[i] = i;
  return order;
}

}  // namespace golgi::data
