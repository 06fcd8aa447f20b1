// burst-order: synthetic spike patterns whose classes differ only in the temporal order in which
// channel groups burst (issue 5; the task dcls-delays needs: rates carry no class information, so
// only timing or synaptic delays can solve it).
//
// Sample: [T = 100 steps, 32 channels] of 0/1 spikes. The channels form 4 groups of 8 (A..D). A
// class is an order of the groups (the first 8 of the 24 orders, lexicographically: ABCD, ABDC,
// ACBD, ...); the k-th group in the order bursts in slot k (slots of 20 steps starting at step 10):
// every channel of that group fires exactly 3 spikes at distinct steps inside a 6-step window
// around the slot centre, the window shifted by a per-sample jitter of up to ±2 steps. Every
// channel also fires background spikes with probability 0.01 per step. Each channel therefore has
// the same expected spike count in every class; only the order differs.
#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/data/registry.h"

namespace golgi::data {

namespace {

constexpr int64_t kSteps = 100, kGroups = 4, kPerGroup = 8, kChannels = kGroups * kPerGroup, kClasses = 8;
constexpr int64_t kSlot = 20, kFirstSlot = 10, kWindow = 6, kBurstSpikes = 3, kJitter = 2;
constexpr double kNoise = 0.01;

std::vector<std::vector<int64_t>> class_orders() {
  std::vector<int64_t> order(kGroups);
  std::iota(order.begin(), order.end(), 0);
  std::vector<std::vector<int64_t>> out;
  do {
    out.push_back(order);
  } while (std::next_permutation(order.begin(), order.end()) && static_cast<int64_t>(out.size()) < kClasses);
  return out;
}

}  // namespace

std::shared_ptr<Dataset> load_burst_order(const DataOptions& options) {
  GOLGI_CHECK(options.split == "train" || options.split == "test", "burst-order has splits 'train' and 'test', got '",
              options.split, "'");
  const int64_t n = options.split == "train" ? 2000 : 500;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(options.seed, "burst-order-" + options.split));
  const auto orders = class_orders();
  at::Tensor y = at::randint(kClasses, {n}, gen, torch::kLong);
  at::Tensor x = at::bernoulli(torch::full({n, kSteps, kChannels}, kNoise), gen);
  auto xa = x.accessor<float, 3>();
  auto ya = y.accessor<int64_t, 1>();
  at::Tensor jitter = at::randint(-kJitter, kJitter + 1, {n}, gen, torch::kLong);
  // Per channel, 3 distinct offsets in the window: a random permutation of the window's steps.
  at::Tensor keys = at::rand({n, kChannels, kWindow}, gen);
  at::Tensor offsets = keys.argsort(/*dim=*/static_cast<int64_t>(-1), /*descending=*/false).narrow(-1, 0, kBurstSpikes).contiguous();
  auto oa = offsets.accessor<int64_t, 3>();
  std::vector<std::string> names;
  for (const auto& order : orders) {
    std::string name;
    for (int64_t g : order) name.push_back(static_cast<char>('A' + g));
    names.push_back(name);
  }
  for (int64_t i = 0; i < n; ++i) {
    const auto& order = orders[static_cast<size_t>(ya[i])];
    for (int64_t slot = 0; slot < kGroups; ++slot) {
      const int64_t group = order[static_cast<size_t>(slot)];
      const int64_t start = kFirstSlot + slot * kSlot + (kSlot - kWindow) / 2 + jitter[i].item<int64_t>();
      for (int64_t c = group * kPerGroup; c < (group + 1) * kPerGroup; ++c)
        for (int64_t b = 0; b < kBurstSpikes; ++b) xa[i][start + oa[i][c][b]][c] = 1.0f;
    }
  }
  Json card = {{"source", "generated"},
               {"description", "classes differ only in the order of channel-group bursts (equal rates)"},
               {"shape", {kSteps, kChannels}},
               {"steps", kSteps},
               {"channels", kChannels},
               {"groups", kGroups},
               {"classes", names},
               {"burst_spikes_per_channel", kBurstSpikes},
               {"background_rate", kNoise},
               {"samples", n}};
  return std::make_shared<Dataset>("burst-order", options.split, x, y, card);
}

}  // namespace golgi::data
