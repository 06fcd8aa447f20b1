#include "golgi/spiking/sim/simulator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "golgi/core/seed.h"
#include "golgi/core/strings.h"
#include "golgi/spiking/sim/kernels.h"

namespace golgi::spiking::sim {

namespace {

// Thread ranges of LIF populations start on multiples of this (one cache line of float32 state).
constexpr int64_t kAlign = 16;

// A reusable list of neuron indices: clearing keeps the storage, so steps allocate nothing.
struct SpikeList {
  std::vector<int32_t> data;
  int64_t count = 0;
  const int32_t* begin() const { return data.data(); }
  const int32_t* end() const { return data.data() + count; }
  size_t size() const { return static_cast<size_t>(count); }
  void clear() { count = 0; }
  void reserve(int64_t n) {
    if (static_cast<int64_t>(data.size()) < n) data.resize(n);
  }
  void push_back(int32_t v) {
    if (count == static_cast<int64_t>(data.size())) data.resize(std::max<size_t>(64, 2 * data.size()));
    data[count++] = v;
  }
};

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Boundaries of `threads` contiguous ranges over [0, size), each start a multiple of `align`.
std::vector<int64_t> split_range(int64_t size, int threads, int64_t align) {
  std::vector<int64_t> b(threads + 1);
  for (int t = 0; t <= threads; ++t) b[t] = std::min(size, round_up(size * t / threads, align));
  b[threads] = size;
  return b;
}

}  // namespace

// Spin, then yield: the barrier is crossed once per step, so waking a sleeping thread (tens of
// microseconds) would cost more than the step itself on small networks.
template <typename T>
struct Simulator<T>::Barrier {
  explicit Barrier(int n) : n_(n) {}
  void wait() {
    if (n_ == 1) return;
    const int generation = generation_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
      count_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
      return;
    }
    for (int spins = 0; generation_.load(std::memory_order_acquire) == generation; ++spins)
      if (spins > 2000) std::this_thread::yield();
  }
  int n_;
  std::atomic<int> count_{0}, generation_{0};
};

template <typename T>
struct Simulator<T>::Population {
  std::string name;
  int64_t size = 0;
  T v_inf = 0, decay = 0, v_th = 0, v_reset = 0;
  int32_t refractory = 0;  // R, steps
  std::vector<T> V;
  std::vector<int32_t> ref;   // refractory steps left (counted down in the groups phase)
  std::vector<int32_t> flag;  // spiked in the current step (int32: same width as V for the vectoriser)
  std::vector<int64_t> counts;
  RingBuffer<T> ring;
  std::vector<int64_t> bounds;  // [threads + 1]
};

template <typename T>
struct Simulator<T>::Source {
  enum class Kind { kLif, kPoisson, kGenerator } kind = Kind::kLif;
  std::string name;
  int64_t size = 0;
  int64_t pop = -1;             // kLif: index into pops_
  std::vector<int64_t> bounds;  // [threads + 1]
  // lists[parity][thread]: neurons that spiked at the step of that parity, ascending per thread.
  std::vector<SpikeList> lists[2];
  // Poisson: counter-based draws (kernels::poisson_flags) keyed by the seed and the step.
  uint64_t key = 0;
  uint32_t threshold = 0;
  bool silent = true, always = false;
  std::vector<int32_t> flag;
  // Generator: events sorted by (step, neuron) and the next one to emit.
  std::vector<std::pair<int64_t, int32_t>> events;
  size_t cursor = 0;
};

template <typename T>
struct Simulator<T>::Projection {
  int64_t source = 0, target = 0;  // source index, population index
  Csr<T> csr;
  std::vector<int64_t> split;      // [n_pre * (threads + 1)]: each thread's part of each row
  bool uniform = true;
  bool identity = false;  // one_to_one: synapse i is i -> i, no row lookup needed
  int64_t delay0 = 0;
  std::unique_ptr<Plasticity<T>> plasticity;
};

template <typename T>
struct Simulator<T>::Worker {
  int64_t spikes = 0, input_spikes = 0, events = 0;
  // Monitored spikes per source: (step, neuron).
  std::vector<std::vector<std::pair<int64_t, int32_t>>> recorded;
  struct Probe {
    size_t monitor, column;
    int64_t pop, neuron;
  };
  std::vector<Probe> probes;
  int64_t state_row0 = 0, first_step = 0;
};

template <typename T>
Simulator<T>::Simulator(const NetworkSpec& spec, int threads) : spec_(spec), threads_(threads) {
  GOLGI_CHECK(threads >= 1 && threads <= 1024, "threads must be in [1, 1024], got ", threads);
  const double dt = spec_.dt;
  for (const auto& p : spec_.populations) {
    auto pop = std::make_unique<Population>();
    pop->name = p.name;
    pop->size = p.size;
    const LifParams& q = p.params;
    pop->v_inf = static_cast<T>(q.E_L() + q.I_e() * q.tau_m() / q.C_m());
    pop->decay = static_cast<T>(std::exp(-dt / q.tau_m()));
    pop->v_th = static_cast<T>(q.V_th());
    pop->v_reset = static_cast<T>(q.V_reset());
    pop->refractory = static_cast<int32_t>(refractory_steps(q, dt, "population '" + p.name + "'"));
    pop->V.resize(p.size);
    SplitMix64 rng(derive_seed(spec_.seed, "V_m:" + p.name));
    for (auto& v : pop->V) v = static_cast<T>(p.V_m_low + (p.V_m_high - p.V_m_low) * rng.uniform());
    for (size_t i = 0; i < p.V_m_values.size(); ++i) pop->V[i] = static_cast<T>(p.V_m_values[i]);
    pop->ref.assign(p.size, 0);
    pop->flag.assign(p.size, 0);
    pop->counts.assign(p.size, 0);
    pop->bounds = split_range(p.size, threads_, kAlign);
    auto src = std::make_unique<Source>();
    src->kind = Source::Kind::kLif;
    src->name = p.name;
    src->size = p.size;
    src->pop = static_cast<int64_t>(pops_.size());
    src->bounds = pop->bounds;
    sources_.push_back(std::move(src));
    pops_.push_back(std::move(pop));
  }
  for (const auto& in : spec_.inputs) {
    auto src = std::make_unique<Source>();
    src->name = in.name;
    src->size = in.size;
    if (in.kind == InputSpec::Kind::kPoisson) {
      src->kind = Source::Kind::kPoisson;
      const double p = in.rate * dt / 1000.0;
      const double scaled = std::round(p * 4294967296.0);
      src->silent = scaled <= 0;
      src->always = scaled >= 4294967296.0;
      src->threshold = src->always ? 0xffffffffU : static_cast<uint32_t>(scaled);
      src->key = derive_seed(spec_.seed, "poisson:" + in.name);
      src->flag.assign(in.size, 0);
      src->bounds = split_range(in.size, threads_, kAlign);
    } else {
      src->kind = Source::Kind::kGenerator;
      for (size_t k = 0; k < in.spike_step.size(); ++k) src->events.emplace_back(in.spike_step[k], in.spike_neuron[k]);
      std::sort(src->events.begin(), src->events.end());
      src->bounds = split_range(in.size, threads_, 1);
    }
    sources_.push_back(std::move(src));
  }
  for (auto& s : sources_)
    for (auto& l : s->lists) l.resize(threads_);

  std::vector<int64_t> max_delay(pops_.size(), 0);
  for (size_t k = 0; k < spec_.projections.size(); ++k) {
    const ProjectionSpec& ps = spec_.projections[k];
    auto pr = std::make_unique<Projection>();
    pr->source = spec_.source_index(ps.source, "projection source");
    pr->target = spec_.source_index(ps.target, "projection target");
    GOLGI_CHECK(pr->target < static_cast<int64_t>(pops_.size()), "projection ", k, " targets input '", ps.target,
                "'; projections must target LIF populations");
    const int64_t n_pre = spec_.size_of(pr->source), n_post = spec_.size_of(pr->target);
    const bool same = pr->source == pr->target;
    using C = ProjectionSpec::Connect;
    if (ps.connect == C::kExplicit) {
      pr->csr = csr_from_triplets<T>(n_pre, n_post, ps.pre, ps.post, ps.weights, ps.delays);
    } else if (ps.connect == C::kFixedProbability) {
      pr->csr = csr_fixed_probability<T>(n_pre, n_post, ps.p, ps.autapses || !same, ps.weight, ps.delay,
                                         derive_seed(spec_.seed, "projection", k));
    } else {
      std::vector<int32_t> pre, post;
      if (ps.connect == C::kOneToOne) {
        for (int64_t i = 0; i < n_pre; ++i) pre.push_back(static_cast<int32_t>(i)), post.push_back(static_cast<int32_t>(i));
      } else {
        GOLGI_CHECK(n_pre * n_post <= (int64_t{1} << 31), "projection ", k, ": all_to_all would make ", n_pre * n_post,
                    " synapses (at most 2^31); use fixed_probability");
        for (int64_t i = 0; i < n_pre; ++i)
          for (int64_t j = 0; j < n_post; ++j)
            if (ps.autapses || !same || i != j)
              pre.push_back(static_cast<int32_t>(i)), post.push_back(static_cast<int32_t>(j));
      }
      pr->csr = csr_from_triplets<T>(n_pre, n_post, pre, post, std::vector<double>(pre.size(), ps.weight),
                                     std::vector<int64_t>(pre.size(), ps.delay));
    }
    pr->uniform = pr->csr.uniform_delay();
    pr->identity = ps.connect == C::kOneToOne;
    pr->delay0 = pr->csr.size() ? pr->csr.delay.front() : 0;
    max_delay[pr->target] = std::max<int64_t>(max_delay[pr->target], pr->csr.max_delay());
    const auto& tb = pops_[pr->target]->bounds;
    pr->split.resize(n_pre * (threads_ + 1));
    for (int64_t i = 0; i < n_pre; ++i) {
      const int32_t* row = pr->csr.post.data();
      for (int t = 0; t <= threads_; ++t)
        pr->split[i * (threads_ + 1) + t] =
            std::lower_bound(row + pr->csr.row_ptr[i], row + pr->csr.row_ptr[i + 1], static_cast<int32_t>(tb[t])) - row;
    }
    if (!ps.plasticity.empty()) {
      StdpOptions o;
      try {
        StdpOptions::schema().apply(o, ps.plasticity_options);
      } catch (const Error& e) {
        GOLGI_FAIL("projection ", k, " plasticity: ", e.what());
      }
      pr->plasticity = std::make_unique<PairStdp<T>>(o);
      pr->plasticity->attach(pr->csr, dt);
      plastic_ = true;
    }
    projections_.push_back(std::move(pr));
  }
  for (size_t p = 0; p < pops_.size(); ++p) pops_[p]->ring = RingBuffer<T>(max_delay[p] + 1, pops_[p]->size);

  monitored_.assign(sources_.size(), false);
  spike_records_.resize(sources_.size());
  for (const auto& name : spec_.spike_monitors) monitored_[spec_.source_index(name, "spike monitor")] = true;
  for (int t = 0; t < threads_; ++t) {
    auto w = std::make_unique<Worker>();
    w->recorded.resize(sources_.size());
    workers_.push_back(std::move(w));
  }
  for (size_t m = 0; m < spec_.state_monitors.size(); ++m) {
    const auto& sm = spec_.state_monitors[m];
    StateRecord<T> rec;
    rec.population = sm.population;
    rec.neurons = sm.neurons;
    states_.push_back(rec);
    const int64_t p = spec_.source_index(sm.population, "state monitor");
    for (size_t c = 0; c < sm.neurons.size(); ++c) {
      const auto& b = pops_[p]->bounds;
      int t = static_cast<int>(std::upper_bound(b.begin(), b.end(), static_cast<int64_t>(sm.neurons[c])) - b.begin()) - 1;
      t = std::min(t, threads_ - 1);
      workers_[t]->probes.push_back({m, c, p, sm.neurons[c]});
    }
  }
  barrier_ = std::make_unique<Barrier>(threads_);
}

template <typename T>
Simulator<T>::~Simulator() = default;

template <typename T>
void Simulator<T>::set_plasticity(size_t index, std::unique_ptr<Plasticity<T>> plasticity) {
  GOLGI_CHECK(index < projections_.size(), "projection index ", index, " out of range (", projections_.size(),
              " projections)");
  projections_[index]->plasticity = std::move(plasticity);
  if (projections_[index]->plasticity) projections_[index]->plasticity->attach(projections_[index]->csr, spec_.dt);
  plastic_ = false;
  for (const auto& p : projections_) plastic_ = plastic_ || p->plasticity != nullptr;
}

// Steps 1-2 of the schedule for thread t's neurons: integrate, threshold, emit input spikes.
template <typename T>
void Simulator<T>::phase_update(int t, int64_t n) {
  Worker& w = *workers_[t];
  const int parity = static_cast<int>(n & 1);
  for (auto& sp : sources_) {
    Source& src = *sp;
    SpikeList& out = src.lists[parity][t];
    out.clear();
    if (src.kind == Source::Kind::kLif) {
      Population& pop = *pops_[src.pop];
      const int64_t lo = pop.bounds[t], hi = pop.bounds[t + 1];
      kernels::integrate(pop.V.data() + lo, pop.ref.data() + lo, pop.flag.data() + lo, hi - lo, pop.v_inf, pop.decay,
                         pop.v_th);
      out.reserve(hi - lo);
      out.count = kernels::compact(pop.flag.data() + lo, hi - lo, static_cast<int32_t>(lo), out.data.data());
      for (int32_t i : out) ++pop.counts[i];
      w.spikes += static_cast<int64_t>(out.size());
    } else if (src.kind == Source::Kind::kPoisson) {
      const int64_t lo = src.bounds[t], hi = src.bounds[t + 1];
      if (src.always) {
        for (int64_t i = lo; i < hi; ++i) out.push_back(static_cast<int32_t>(i));
      } else if (!src.silent) {
        const uint64_t mixed = src.key ^ (static_cast<uint64_t>(n) * 0x9e3779b97f4a7c15ULL);
        const uint32_t step_key = kernels::hash32(static_cast<uint32_t>(mixed) ^ kernels::hash32(static_cast<uint32_t>(mixed >> 32)));
        kernels::poisson_flags(src.flag.data() + lo, hi - lo, static_cast<uint32_t>(lo), step_key, src.threshold);
        out.reserve(hi - lo);
        out.count = kernels::compact(src.flag.data() + lo, hi - lo, static_cast<int32_t>(lo), out.data.data());
      }
      w.input_spikes += static_cast<int64_t>(out.size());
    } else if (t == 0) {
      while (src.cursor < src.events.size() && src.events[src.cursor].first < n) ++src.cursor;
      while (src.cursor < src.events.size() && src.events[src.cursor].first == n)
        out.push_back(src.events[src.cursor++].second);
      w.input_spikes += static_cast<int64_t>(out.size());
    }
  }
  for (size_t s = 0; s < sources_.size(); ++s)
    if (monitored_[s])
      for (int32_t i : sources_[s]->lists[parity][t]) w.recorded[s].emplace_back(n, i);
}

// Steps 3-4 for thread t's targets: propagate step n's spikes, deliver the input due now, reset.
template <typename T>
void Simulator<T>::phase_deliver(int t, int64_t n) {
  Worker& w = *workers_[t];
  const int parity = static_cast<int>(n & 1);
  const int stride = threads_ + 1;
  for (auto& pp : projections_) {
    Projection& pr = *pp;
    Population& pop = *pops_[pr.target];
    const int64_t* __restrict split = pr.split.data();
    const int32_t* __restrict post = pr.csr.post.data();
    const T* __restrict weight = pr.csr.weight.data();
    const uint16_t* __restrict delay = pr.csr.delay.data();
    const int64_t slots = pop.ring.slots(), now = pop.ring.slot_of(n);
    T* __restrict fixed = pop.ring.slot((now + pr.delay0) % slots);
    if (pr.identity && pr.uniform) {
      const int64_t lo = pop.bounds[t], hi = pop.bounds[t + 1];
      for (const auto& list : sources_[pr.source]->lists[parity])
        for (int32_t i : list)
          if (i >= lo && i < hi) {
            fixed[i] += weight[i];
            ++w.events;
          }
      continue;
    }
    for (const auto& list : sources_[pr.source]->lists[parity]) {
      const int32_t* spikes = list.begin();
      const int64_t count = static_cast<int64_t>(list.size());
      for (int64_t j = 0; j < count; ++j) {
        const int32_t i = spikes[j];
        // The rows of later spikes come from far away in memory (L3 or DRAM): ask for them early.
        if (j + 4 < count) __builtin_prefetch(split + spikes[j + 4] * stride + t);
        if (j + 2 < count) {
          const int64_t next = split[spikes[j + 2] * stride + t];
          __builtin_prefetch(post + next);
          __builtin_prefetch(weight + next);
        }
        const int64_t k0 = split[i * stride + t], k1 = split[i * stride + t + 1];
        w.events += k1 - k0;
        if (pr.uniform) {
          for (int64_t k = k0; k < k1; ++k) fixed[post[k]] += weight[k];
        } else {
          for (int64_t k = k0; k < k1; ++k) {
            int64_t s = now + delay[k];
            if (s >= slots) s -= slots;
            pop.ring.slot(s)[post[k]] += weight[k];
          }
        }
      }
    }
  }
  for (auto& pp : pops_) {
    Population& pop = *pp;
    const int64_t lo = pop.bounds[t], hi = pop.bounds[t + 1];
    kernels::deliver_and_reset(pop.V.data() + lo, pop.ref.data() + lo, pop.flag.data() + lo, pop.ring.at_step(n) + lo,
                               hi - lo, pop.v_reset, pop.refractory, spec_.deliver_after_reset);
  }
  const int64_t row = w.state_row0 + (n - w.first_step);
  for (const auto& probe : w.probes) {
    auto& rec = states_[probe.monitor];
    rec.values[row * rec.neurons.size() + probe.column] = pops_[probe.pop]->V[probe.neuron];
  }
}

template <typename T>
void Simulator<T>::run_plasticity(int64_t n) {
  const int parity = static_cast<int>(n & 1);
  std::vector<int32_t> pre, post;
  for (auto& pp : projections_) {
    if (!pp->plasticity) continue;
    pre.clear();
    post.clear();
    for (const auto& l : sources_[pp->source]->lists[parity]) pre.insert(pre.end(), l.begin(), l.end());
    for (const auto& l : sources_[pp->target]->lists[parity]) post.insert(post.end(), l.begin(), l.end());
    if (!pre.empty()) pp->plasticity->on_pre_spikes(n, pre, pp->csr);
    if (!post.empty()) pp->plasticity->on_post_spikes(n, post, pp->csr);
  }
}

template <typename T>
void Simulator<T>::run_thread(int t, int64_t first, int64_t last) {
  for (int64_t n = first; n < last; ++n) {
    phase_update(t, n);
    barrier_->wait();
    if (plastic_) {
      if (t == 0) run_plasticity(n);
      barrier_->wait();
    }
    phase_deliver(t, n);
  }
}

template <typename T>
void Simulator<T>::merge_records(int64_t first, int64_t last) {
  for (size_t s = 0; s < sources_.size(); ++s) {
    if (!monitored_[s]) continue;
    std::vector<std::pair<int64_t, int32_t>> all;
    for (auto& w : workers_) {
      all.insert(all.end(), w->recorded[s].begin(), w->recorded[s].end());
      w->recorded[s].clear();
    }
    std::sort(all.begin(), all.end());
    for (const auto& [step, neuron] : all) {
      spike_records_[s].step.push_back(step);
      spike_records_[s].neuron.push_back(neuron);
    }
  }
  (void)first;
  (void)last;
}

template <typename T>
void Simulator<T>::run(int64_t steps) {
  GOLGI_CHECK(steps >= 0, "steps must be >= 0, got ", steps);
  if (steps == 0) return;
  const auto start = std::chrono::steady_clock::now();
  const int64_t first = step_, last = step_ + steps;
  for (auto& rec : states_) rec.values.resize((rec.rows() + steps) * rec.neurons.size());
  // Each state record grew by `steps` rows; the stats_.steps rows before them are filled.
  for (auto& w : workers_) {
    w->first_step = first;
    w->state_row0 = stats_.steps;
    w->spikes = w->input_spikes = w->events = 0;
  }
  std::vector<std::thread> pool;
  for (int t = 1; t < threads_; ++t) pool.emplace_back([this, t, first, last] { run_thread(t, first, last); });
  run_thread(0, first, last);
  for (auto& th : pool) th.join();
  merge_records(first, last);
  step_ = last;
  int64_t lif = 0;
  for (const auto& p : pops_) lif += p->size;
  stats_.steps += steps;
  stats_.neuron_steps += lif * steps;
  for (const auto& w : workers_) {
    stats_.spikes += w->spikes;
    stats_.input_spikes += w->input_spikes;
    stats_.synaptic_events += w->events;
  }
  stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <typename T>
const SpikeRecord& Simulator<T>::spikes(const std::string& name) const {
  const int64_t s = spec_.source_index(name, "spike record");
  GOLGI_CHECK(monitored_[s], "'", name, "' has no spike monitor; add it to network.monitors.spikes");
  return spike_records_[s];
}

template <typename T>
const std::vector<int64_t>& Simulator<T>::spike_counts(const std::string& population) const {
  const int64_t s = spec_.source_index(population, "spike counts");
  GOLGI_CHECK(s < static_cast<int64_t>(pops_.size()), "'", population, "' is an input, not a LIF population");
  return pops_[s]->counts;
}

template <typename T>
Csr<T>& Simulator<T>::projection(size_t index) {
  GOLGI_CHECK(index < projections_.size(), "projection index ", index, " out of range (", projections_.size(),
              " projections)");
  return projections_[index]->csr;
}

template <typename T>
std::vector<T>& Simulator<T>::V_m(const std::string& population) {
  const int64_t s = spec_.source_index(population, "V_m");
  GOLGI_CHECK(s < static_cast<int64_t>(pops_.size()), "'", population, "' is an input, not a LIF population");
  return pops_[s]->V;
}

template class Simulator<float>;
template class Simulator<double>;

}  // namespace golgi::spiking::sim
