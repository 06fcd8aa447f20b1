// Per-hook cost of golgi's hook points (peer: bench/peers/hook_overhead.py, PyTorch eager forward
// hooks on nn.Identity hook sites). bench/run.sh runs both and writes bench/results/hook_overhead.json.
//
//   BM_Forward/<model>/no_hooks          forward pass, hook points present but nothing attached
//   BM_Forward/<model>/cache_all_hooks   ActivationCache on "**" (every hook point, detached),
//                                        cache.run() per forward (clears, then records)
//   BM_HookOverhead/<model>/cache        the same two forwards, paired and alternated in one
//                                        loop; counters give the medians and the per-hook cost
//                                        (median of hooked - plain, over the hook count)
//   BM_HookOverhead/<model>/<other>      the same with cheaper hooks, to split the cost: noop,
//                                        keep (store the handle), detach_slot, view_slot
//
//   BM_HookPoint/*    one HookPoint on a [128] tensor: nothing attached, a hook that does
//                     nothing, an ActivationCache hook (with and without cache.run), and a hook
//                     that stores into a preallocated slot (what a leaner cache would cost)
//   BM_Part/*         the pieces a caching hook is made of, alone
//   BM_Matmul/512     512x512 fp32 matmul, the machine's peak for DESIGN.md's fraction-of-peak
//
// Everything runs on 1 intra-op and 1 inter-op thread (run.sh also sets OPENBLAS_NUM_THREADS=1:
// Debian's OpenBLAS keeps its own pool), autograd on (PyTorch's eager default; the peer does the
// same), batch 1, so the forward pass is short next to the hook cost.
#include <benchmark/benchmark.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>
#include <torch/version.h>

#include "golgi/hooks/activation_cache.h"
#include "golgi/hooks/hooked_module.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/models/registry.h"

namespace {

using golgi::hooks::ActivationCache;
using golgi::hooks::HookPointImpl;

constexpr int64_t kBatch = 1;

at::Tensor input_for(const golgi::models::Model& model) {
  std::vector<int64_t> shape{kBatch};
  for (int64_t d : model.input_shape()) shape.push_back(d);
  return torch::randn(shape);
}

// What a.detach() builds, without the dispatcher round trip (Autograd -> ADInplaceOrView ->
// CompositeExplicitAutograd, with a RecordFunction): one shallow copy of the TensorImpl that shares
// the version counter and has no autograd metadata, as ADInplaceOrView's detach makes it.
at::Tensor non_differentiable_alias(const at::Tensor& a) {
  return torch::autograd::make_variable_non_differentiable_view(a, a, /*allow_tensor_metadata_change=*/false);
}

void BM_Forward(benchmark::State& state, const std::string& arch, bool hooks) {
  torch::manual_seed(0);
  auto model = golgi::models::make_model(arch);
  at::Tensor x = input_for(*model);
  std::optional<ActivationCache> cache;
  if (hooks) cache.emplace(*model, std::vector<std::string>{"**"});
  for (auto _ : state) {
    at::Tensor y = hooks ? cache->run([&] { return model->forward(x); }) : model->forward(x);
    benchmark::DoNotOptimize(y);
  }
  if (hooks && cache->tensors().size() != model->hook_names().size())
    state.SkipWithError("the cache did not record every hook point");
  state.counters["hooks"] = hooks ? static_cast<double>(cache->names().size()) : 0.0;
  state.counters["hook_points"] = static_cast<double>(model->hook_names().size());
  state.counters["batch"] = static_cast<double>(kBatch);
}

double wall_ns() {
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (v.size() % 2 == 1) return *mid;
  return (*mid + *std::max_element(v.begin(), mid)) / 2.0;
}

struct Sample {
  double wall = 0, cpu = 0;
};

template <class F>
Sample time_once(F&& f) {
  double c0 = thread_cpu_ns(), w0 = wall_ns();
  f();
  double w1 = wall_ns(), c1 = thread_cpu_ns();
  return {w1 - w0, c1 - c0};
}

// What the hooked copy of the model carries in BM_HookOverhead.
enum class HookKind {
  kCache,         // ActivationCache on "**", cache.run() per forward: the headline
  kNoop,          // a hook that returns an undefined tensor: dispatch alone
  kKeep,          // stores the activation handle (no detach) in a slot fixed at add time
  kDetachSlot,    // stores a.detach() in that slot: ActivationCache without the map
  kViewSlot,      // stores non_differentiable_alias(a) in that slot (a proposed cheaper detach)
};

// The headline measurement. Two copies of the model (same seed, so the same weights and the same
// arithmetic); one carries hooks on every hook point. Each iteration times one forward of each,
// back to back, in alternating order, and the per-hook cost is the median over iterations of
// (hooked - plain) / hooks. Pairing cancels the drift a shared machine adds, which swamps a
// difference of two separately-run benchmarks. Counters are in microseconds, per forward.
void BM_HookOverhead(benchmark::State& state, const std::string& arch, HookKind kind) {
  torch::manual_seed(0);
  auto plain = golgi::models::make_model(arch);
  torch::manual_seed(0);
  auto hooked = golgi::models::make_model(arch);
  at::Tensor x = input_for(*plain);
  const std::vector<std::string> names = hooked->hook_names();
  const double hooks = static_cast<double>(names.size());

  std::optional<ActivationCache> cache;
  golgi::hooks::HookGuards guards;
  std::vector<at::Tensor> slots(names.size());
  for (size_t i = 0; i < names.size() && kind != HookKind::kCache; ++i) {
    at::Tensor* slot = &slots[i];
    golgi::hooks::HookFn fn;
    switch (kind) {
      case HookKind::kNoop:
        fn = [](const at::Tensor&, const HookPointImpl&) { return at::Tensor(); };
        break;
      case HookKind::kKeep:
        fn = [slot](const at::Tensor& a, const HookPointImpl&) {
          *slot = a;
          return at::Tensor();
        };
        break;
      case HookKind::kDetachSlot:
        fn = [slot](const at::Tensor& a, const HookPointImpl&) {
          *slot = a.detach();
          return at::Tensor();
        };
        break;
      default:
        fn = [slot](const at::Tensor& a, const HookPointImpl&) {
          *slot = non_differentiable_alias(a);
          return at::Tensor();
        };
        break;
    }
    guards.push_back(golgi::hooks::add_hook(*hooked, names[i], std::move(fn)));
  }
  if (kind == HookKind::kCache) cache.emplace(*hooked, std::vector<std::string>{"**"});

  auto run_plain = [&] {
    at::Tensor y = plain->forward(x);
    benchmark::DoNotOptimize(y);
  };
  auto run_hooked = [&] {
    at::Tensor y;
    if (cache) {
      y = cache->run([&] { return hooked->forward(x); });
    } else {
      for (auto& slot : slots) slot.reset();  // what a cache's clear() does
      y = hooked->forward(x);
    }
    benchmark::DoNotOptimize(y);
  };
  for (int i = 0; i < 20; ++i) {
    run_plain();
    run_hooked();
  }
  std::vector<double> base_wall, base_cpu, hook_wall, hook_cpu, diff_wall, diff_cpu;
  bool hooked_first = false;
  for (auto _ : state) {
    Sample b, h;
    if (hooked_first) {
      h = time_once(run_hooked);
      b = time_once(run_plain);
    } else {
      b = time_once(run_plain);
      h = time_once(run_hooked);
    }
    hooked_first = !hooked_first;
    base_wall.push_back(b.wall);
    base_cpu.push_back(b.cpu);
    hook_wall.push_back(h.wall);
    hook_cpu.push_back(h.cpu);
    diff_wall.push_back(h.wall - b.wall);
    diff_cpu.push_back(h.cpu - b.cpu);
  }
  if (cache && cache->tensors().size() != names.size())
    state.SkipWithError("the cache did not record every hook point");
  state.counters["hooks"] = hooks;
  state.counters["base_wall_us"] = median(base_wall) / 1e3;
  state.counters["hooked_wall_us"] = median(hook_wall) / 1e3;
  state.counters["per_hook_wall_us"] = median(diff_wall) / hooks / 1e3;
  state.counters["base_cpu_us"] = median(base_cpu) / 1e3;
  state.counters["hooked_cpu_us"] = median(hook_cpu) / 1e3;
  state.counters["per_hook_cpu_us"] = median(diff_cpu) / hooks / 1e3;
}

// A model with a single hook point, to time one hook in isolation.
class OnePoint : public golgi::hooks::HookedModule {
 public:
  OnePoint() {
    point = register_module("hook_post", golgi::hooks::HookPoint("[batch, d]"));
    setup_hooks();
  }
  golgi::hooks::HookPoint point{nullptr};
};

at::Tensor small_activation() {
  // Like a hidden layer's output during a forward pass: a fresh result that requires grad.
  at::Tensor w = torch::randn({128}, torch::requires_grad());
  return w * 2;
}

void BM_HookPoint_NoHooks(benchmark::State& state) {
  OnePoint m;
  at::Tensor a = small_activation();
  for (auto _ : state) {
    at::Tensor y = m.point(a);
    benchmark::DoNotOptimize(y);
  }
}

void BM_HookPoint_NoopHook(benchmark::State& state) {
  OnePoint m;
  at::Tensor a = small_activation();
  auto guard = golgi::hooks::add_hook(m, "hook_post",
                                      [](const at::Tensor&, const HookPointImpl&) { return at::Tensor(); });
  for (auto _ : state) {
    at::Tensor y = m.point(a);
    benchmark::DoNotOptimize(y);
  }
}

// The full caching path, as BM_Forward uses it: cache.run() clears the map, then the hook inserts.
void BM_HookPoint_CacheHook(benchmark::State& state) {
  OnePoint m;
  at::Tensor a = small_activation();
  ActivationCache cache(m, {"**"});
  for (auto _ : state) {
    at::Tensor y = cache.run([&] { return m.point(a); });
    benchmark::DoNotOptimize(y);
  }
}

// The caching hook alone: no run(), so the map entry already exists and is overwritten.
void BM_HookPoint_CacheHookNoRun(benchmark::State& state) {
  OnePoint m;
  at::Tensor a = small_activation();
  ActivationCache cache(m, {"**"});
  for (auto _ : state) {
    at::Tensor y = m.point(a);
    benchmark::DoNotOptimize(y);
  }
}

// A caching hook that writes a.detach() into a slot fixed when the hook was added (no map, no
// string key): the floor for caching through the current HookPointImpl::run_hooks.
void BM_HookPoint_SlotHook(benchmark::State& state) {
  OnePoint m;
  at::Tensor a = small_activation();
  std::vector<at::Tensor> slots(1);
  auto guard = golgi::hooks::add_hook(m, "hook_post", [&slots](const at::Tensor& t, const HookPointImpl&) {
    slots[0] = t.detach();
    return at::Tensor();
  });
  for (auto _ : state) {
    for (auto& s : slots) s.reset();
    at::Tensor y = m.point(a);
    benchmark::DoNotOptimize(y);
  }
}

void BM_Part_Detach(benchmark::State& state) {
  at::Tensor a = small_activation();
  for (auto _ : state) {
    at::Tensor d = a.detach();
    benchmark::DoNotOptimize(d);
  }
}

// Alternatives to detach() for a cache, for comparison: a plain handle copy (refcount only), and
// variable_data() (a shallow copy without autograd view tracking or a dispatcher call).
void BM_Part_HandleCopy(benchmark::State& state) {
  at::Tensor a = small_activation();
  for (auto _ : state) {
    at::Tensor d = a;
    benchmark::DoNotOptimize(d);
  }
}

void BM_Part_NonDifferentiableAlias(benchmark::State& state) {
  at::Tensor a = small_activation();
  at::Tensor check = non_differentiable_alias(a), reference = a.detach();
  a.mul_(1.0);  // bumps the shared version counter
  if (check.requires_grad() || check.grad_fn() || check._version() != a._version() ||
      check._version() != reference._version() || check.data_ptr() != a.data_ptr() || check.is_view())
    state.SkipWithError("non_differentiable_alias differs from detach()");
  for (auto _ : state) {
    at::Tensor d = non_differentiable_alias(a);
    benchmark::DoNotOptimize(d);
  }
}

void BM_Part_VariableData(benchmark::State& state) {
  at::Tensor a = small_activation();
  for (auto _ : state) {
    at::Tensor d = a.variable_data();
    benchmark::DoNotOptimize(d);
  }
}

// What run_hooks does before calling anything: copies the (id, std::function) list.
void BM_Part_CopyHookList(benchmark::State& state) {
  void* owner = &state;
  std::vector<std::pair<uint64_t, golgi::hooks::HookFn>> hooks;
  hooks.emplace_back(1, [owner](const at::Tensor&, const HookPointImpl&) {
    benchmark::DoNotOptimize(owner);
    return at::Tensor();
  });
  for (auto _ : state) {
    auto copy = hooks;
    benchmark::DoNotOptimize(copy.data());
  }
}

// What ActivationCache does per hook per forward: clear() frees last pass's node, then
// store_[name] = tensor allocates a node and copies the (non-SSO) key.
void BM_Part_MapClearInsert(benchmark::State& state) {
  std::map<std::string, at::Tensor> store;
  const std::string name = "layers.0.hook_post";
  at::Tensor a = small_activation().detach();
  for (auto _ : state) {
    store.clear();
    store[name] = a;
    benchmark::DoNotOptimize(store.size());
  }
}

void BM_Matmul(benchmark::State& state) {
  const int64_t n = state.range(0);
  at::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
  for (auto _ : state) {
    at::Tensor c = at::mm(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.counters["FLOPS"] =
      benchmark::Counter(2.0 * static_cast<double>(n * n * n), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  at::set_num_threads(1);
  at::set_num_interop_threads(1);

  for (const char* arch : {"mlp", "cnn"}) {
    for (bool hooks : {false, true}) {
      std::string name = std::string("BM_Forward/") + arch + (hooks ? "/cache_all_hooks" : "/no_hooks");
      benchmark::RegisterBenchmark(name.c_str(), BM_Forward, std::string(arch), hooks)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  const std::pair<const char*, HookKind> kinds[] = {{"cache", HookKind::kCache},
                                                    {"noop", HookKind::kNoop},
                                                    {"keep", HookKind::kKeep},
                                                    {"detach_slot", HookKind::kDetachSlot},
                                                    {"view_slot", HookKind::kViewSlot}};
  for (const auto& [kind_name, kind] : kinds) {
    for (const char* arch : {"mlp", "cnn"}) {
      std::string name = std::string("BM_HookOverhead/") + arch + "/" + kind_name;
      benchmark::RegisterBenchmark(name.c_str(), BM_HookOverhead, std::string(arch), kind)
          ->Iterations(std::string(arch) == "mlp" ? 2000 : 800);
    }
  }
  benchmark::RegisterBenchmark("BM_HookPoint/no_hooks", BM_HookPoint_NoHooks);
  benchmark::RegisterBenchmark("BM_HookPoint/noop_hook", BM_HookPoint_NoopHook);
  benchmark::RegisterBenchmark("BM_HookPoint/cache_hook", BM_HookPoint_CacheHook);
  benchmark::RegisterBenchmark("BM_HookPoint/cache_hook_no_run", BM_HookPoint_CacheHookNoRun);
  benchmark::RegisterBenchmark("BM_HookPoint/slot_hook", BM_HookPoint_SlotHook);
  benchmark::RegisterBenchmark("BM_Part/detach", BM_Part_Detach);
  benchmark::RegisterBenchmark("BM_Part/handle_copy", BM_Part_HandleCopy);
  benchmark::RegisterBenchmark("BM_Part/variable_data", BM_Part_VariableData);
  benchmark::RegisterBenchmark("BM_Part/non_differentiable_alias", BM_Part_NonDifferentiableAlias);
  benchmark::RegisterBenchmark("BM_Part/copy_hook_list", BM_Part_CopyHookList);
  benchmark::RegisterBenchmark("BM_Part/map_clear_insert", BM_Part_MapClearInsert);
  benchmark::RegisterBenchmark("BM_Matmul", BM_Matmul)->Arg(512)->Unit(benchmark::kMicrosecond);

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("torch_version", TORCH_VERSION);
  benchmark::AddCustomContext("torch_num_threads", std::to_string(at::get_num_threads()));
  for (const char* var : {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"}) {
    const char* value = std::getenv(var);
    benchmark::AddCustomContext(var, value ? value : "(unset)");
  }
  benchmark::AddCustomContext("grad_mode", at::GradMode::is_enabled() ? "enabled" : "disabled");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
