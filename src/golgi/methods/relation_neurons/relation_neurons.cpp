// Relation neurons (paper id `relation-neurons`): see relation_neurons.h for the equations.
#include "golgi/methods/relation_neurons/relation_neurons.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "golgi/core/seed.h"

namespace golgi::methods {

const OptionSchema<RelationNeuronOptions>& RelationNeuronOptions::schema() {
  static const auto schema =
      OptionSchema<RelationNeuronOptions>("relation_neurons")
          .add("top_n", &RelationNeuronOptions::top_n_,
               "neurons kept per relation (the highest AP); 0 means use top_rate", at_least<int64_t>(0))
          .add("top_rate", &RelationNeuronOptions::top_rate_,
               "share of all neurons kept per relation when top_n is 0: max(1, round(top_rate * neurons))",
               Range<double>{0.0, 1.0, false, true})
          .add("negatives_per_positive", &RelationNeuronOptions::negatives_per_positive_,
               "negative prompts (of other relations) sampled per positive prompt", at_least<int64_t>(1))
          .add("negatives_correct_only", &RelationNeuronOptions::negatives_correct_only_,
               "sample negatives only from prompts of other relations that the model answers correctly")
          .add("seed", &RelationNeuronOptions::seed_, "seed of the negative samples", at_least<int64_t>(0));
  return schema;
}

namespace {

// ---------------------------------------------------------------------------------------------
// The AP kernel. Per column, the positives' and the negatives' scores are sorted separately as
// unsigned integers that order like the scores (IEEE bits with the sign folded), then walked
// together from the highest score down, one threshold per distinct score. Keeping the two groups
// apart means the label needs no room in the key, so float32 sorts 4-byte keys and float64 8-byte
// keys, both with an LSD radix sort.

// Ordered bits; -0.0 and +0.0 map to one key, since they compare equal (and sklearn groups them).
inline uint32_t ordered_bits(float v) {
  if (v == 0.0f) v = 0.0f;  // -0.0 -> +0.0
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
inline uint64_t ordered_bits(double v) {
  if (v == 0.0) v = 0.0;
  uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

constexpr int kRadixBits = 11;
constexpr uint32_t kRadixBuckets = 1u << kRadixBits;

// LSD radix sort of n keys (ascending) in passes of 11 bits; `scratch` holds n keys and `counts`
// kPasses * 2048 integers. All histograms come from one read; a pass whose digit is the same for
// every key (common: responses span a narrow range, so their high bits agree) is skipped.
template <typename Key>
void radix_sort(Key* keys, size_t n, Key* scratch, uint32_t* counts) {
  constexpr int kPasses = (8 * static_cast<int>(sizeof(Key)) + kRadixBits - 1) / kRadixBits;
  if (n < 128) {
    std::sort(keys, keys + n);
    return;
  }
  std::fill(counts, counts + kPasses * kRadixBuckets, 0u);
  for (size_t i = 0; i < n; ++i) {
    const Key k = keys[i];
    for (int p = 0; p < kPasses; ++p) ++counts[p * kRadixBuckets + ((k >> (p * kRadixBits)) & (kRadixBuckets - 1))];
  }
  Key* from = keys;
  Key* to = scratch;
  for (int p = 0; p < kPasses; ++p) {
    uint32_t* c = counts + p * kRadixBuckets;
    if (c[(from[0] >> (p * kRadixBits)) & (kRadixBuckets - 1)] == n) continue;
    uint32_t sum = 0;
    for (uint32_t b = 0; b < kRadixBuckets; ++b) {
      const uint32_t count = c[b];
      c[b] = sum;
      sum += count;
    }
    for (size_t i = 0; i < n; ++i) to[c[(from[i] >> (p * kRadixBits)) & (kRadixBuckets - 1)]++] = from[i];
    std::swap(from, to);
  }
  if (from != keys) std::copy(from, from + n, keys);
}

// AP of one column from its sorted (ascending) positive keys pos[0..np) and negative keys
// neg[0..nn): Σ_k ΔTP_k · TP_k / (TP_k + FP_k) / np over distinct scores, highest first.
template <typename Key>
double ap_sorted(const Key* pos, int64_t np, const Key* neg, int64_t nn) {
  int64_t i = np - 1, j = nn - 1;  // next unvisited positive / negative, from the top
  int64_t tp = 0, fp = 0;
  double sum = 0.0;
  while (i >= 0) {  // once every positive is counted, recall stops growing
    const Key t = (j >= 0 && neg[j] > pos[i]) ? neg[j] : pos[i];
    const int64_t tp0 = tp;
    for (; i >= 0 && pos[i] == t; --i) ++tp;
    for (; j >= 0 && neg[j] >= t; --j) ++fp;  // >=: every negative above t was counted already
    if (tp > tp0) sum += static_cast<double>(tp - tp0) * (static_cast<double>(tp) / static_cast<double>(tp + fp));
  }
  return sum / static_cast<double>(np);
}

// First non-finite score seen by the kernel (row, column), for the error message.
struct BadValue {
  std::atomic<bool> seen{false};
  std::atomic<int64_t> row{-1}, col{-1};
  void report(int64_t r, int64_t c) {
    bool expected = false;
    if (seen.compare_exchange_strong(expected, true)) {
      row = r;
      col = c;
    }
  }
};

// The AP kernel over rows `rows` (null: 0..n_rows-1) of a row-major [*, n_cols] matrix. Columns
// are handled in blocks: a block is gathered row by row (each row read is one contiguous run, which
// keeps cache and TLB misses per element low), positives to the front of each column's buffer and
// negatives behind them; then each column's two parts are sorted and walked.
template <typename Scalar, typename Key>
void ap_kernel(const Scalar* data, int64_t n_cols, const int64_t* rows, int64_t n_rows, const uint8_t* positive,
               double* out, BadValue& bad) {
  // Where row i goes in a column's buffer: positives first, then negatives, each in row order.
  std::vector<int64_t> slot(static_cast<size_t>(n_rows));
  int64_t n_pos = 0;
  for (int64_t i = 0; i < n_rows; ++i) n_pos += positive[i];
  for (int64_t i = 0, p = 0, q = n_pos; i < n_rows; ++i) slot[static_cast<size_t>(i)] = positive[i] ? p++ : q++;
  // About 1 MiB of keys per block, 8 to 128 columns.
  const int64_t block = std::clamp<int64_t>((int64_t{1} << 20) / (n_rows * static_cast<int64_t>(sizeof(Key))), 8, 128);
  constexpr int kPasses = (8 * static_cast<int>(sizeof(Key)) + kRadixBits - 1) / kRadixBits;
  constexpr int64_t kAhead = 16;
  at::parallel_for(0, n_cols, block, [&](int64_t begin, int64_t end) {
    std::vector<Key> keys(static_cast<size_t>(block * n_rows));
    std::vector<Key> scratch(static_cast<size_t>(n_rows));
    std::vector<uint32_t> counts(static_cast<size_t>(kPasses) * kRadixBuckets);
    for (int64_t c0 = begin; c0 < end; c0 += block) {
      const int64_t nb = std::min(block, end - c0);
      const int64_t run_bytes = nb * static_cast<int64_t>(sizeof(Scalar));
      for (int64_t i = 0; i < n_rows; ++i) {
        // Rows lie a whole row apart, too far for the hardware prefetcher: ask for the run of the
        // row kAhead rows on (the gather is otherwise bound by memory latency, not bandwidth).
        if (i + kAhead < n_rows) {
          const char* ahead =
              reinterpret_cast<const char*>(data + (rows ? rows[i + kAhead] : i + kAhead) * n_cols + c0);
          for (int64_t off = 0; off < run_bytes; off += 64) __builtin_prefetch(ahead + off);
        }
        const int64_t r = rows ? rows[i] : i;
        const Scalar* row = data + r * n_cols + c0;
        Key* dst = keys.data() + slot[static_cast<size_t>(i)];
        for (int64_t b = 0; b < nb; ++b) {
          const Scalar v = row[b];
          if (!std::isfinite(v)) bad.report(r, c0 + b);
          dst[b * n_rows] = ordered_bits(v);
        }
      }
      if (bad.seen.load(std::memory_order_relaxed)) return;
      for (int64_t b = 0; b < nb; ++b) {
        Key* k = keys.data() + b * n_rows;
        radix_sort(k, static_cast<size_t>(n_pos), scratch.data(), counts.data());
        radix_sort(k + n_pos, static_cast<size_t>(n_rows - n_pos), scratch.data(), counts.data());
        out[c0 + b] = ap_sorted(k, n_pos, k + n_pos, n_rows - n_pos);
      }
    }
  });
}

std::vector<uint8_t> binary_labels(const at::Tensor& labels, const char* what) {
  GOLGI_CHECK(labels.defined(), what, ": the labels tensor is undefined");
  GOLGI_CHECK(labels.dim() == 1, what, ": labels must be 1-D [examples], got shape ", labels.sizes());
  GOLGI_CHECK(labels.scalar_type() == at::kBool || at::isIntegralType(labels.scalar_type(), /*includeBool=*/false),
              what, ": labels must be bool or integer 0 / 1, got dtype ", labels.scalar_type());
  const at::Tensor l = labels.to(at::kLong).contiguous();
  const int64_t* d = l.data_ptr<int64_t>();
  std::vector<uint8_t> out(static_cast<size_t>(l.numel()));
  for (int64_t i = 0; i < l.numel(); ++i) {
    GOLGI_CHECK(d[i] == 0 || d[i] == 1, what, ": labels must be 0 or 1, got ", d[i], " at index ", i);
    out[static_cast<size_t>(i)] = static_cast<uint8_t>(d[i]);
  }
  return out;
}

void check_scores(const at::Tensor& scores, int64_t dims, const char* what) {
  GOLGI_CHECK(scores.defined(), what, ": the scores tensor is undefined");
  GOLGI_CHECK(scores.dim() == dims, what, ": scores must be ", dims == 1 ? "1-D [examples]" : "2-D [examples, neurons]",
              ", got shape ", scores.sizes());
  GOLGI_CHECK(scores.scalar_type() == at::kFloat || scores.scalar_type() == at::kDouble, what,
              ": scores must be float32 or float64, got dtype ", scores.scalar_type());
}

at::Tensor ap_columns(const at::Tensor& scores, const int64_t* rows, int64_t n_rows, const uint8_t* positive,
                      const char* what) {
  int64_t n_positive = 0;
  for (int64_t i = 0; i < n_rows; ++i) n_positive += positive[i];
  GOLGI_CHECK(n_rows > 0, what, ": no examples");
  GOLGI_CHECK(n_positive > 0, what, ": no positive example among ", n_rows,
              ", so average precision is undefined (recall = TP / 0); scikit-learn returns 0 with a warning, "
              "golgi refuses");
  const at::Tensor s = scores.contiguous();
  const int64_t n_cols = s.size(1);
  at::Tensor out = at::empty({n_cols}, at::TensorOptions().dtype(at::kDouble));
  if (n_cols == 0) return out;
  BadValue bad;
  if (s.scalar_type() == at::kFloat)
    ap_kernel<float, uint32_t>(s.data_ptr<float>(), n_cols, rows, n_rows, positive, out.data_ptr<double>(), bad);
  else
    ap_kernel<double, uint64_t>(s.data_ptr<double>(), n_cols, rows, n_rows, positive, out.data_ptr<double>(), bad);
  if (bad.seen) {
    const double v = s[bad.row.load()][bad.col.load()].item<double>();
    GOLGI_FAIL(what, ": scores must be finite, got ", v, " at example ", bad.row.load(), ", neuron ", bad.col.load());
  }
  return out;
}

std::vector<int64_t> integer_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  const int64_t* d = c.data_ptr<int64_t>();
  return std::vector<int64_t>(d, d + c.numel());
}

// Python's round(): nearest, ties to even.
int64_t round_half_even(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

}  // namespace

// -----------------------------------------------------------------------------------------------
// Average precision.

double average_precision(const at::Tensor& scores, const at::Tensor& labels) {
  check_scores(scores, 1, "average precision");
  const auto positive = binary_labels(labels, "average precision");
  GOLGI_CHECK(static_cast<int64_t>(positive.size()) == scores.size(0), "average precision: ", scores.size(0),
              " scores but ", positive.size(), " labels");
  return ap_columns(scores.reshape({-1, 1}), nullptr, scores.size(0), positive.data(), "average precision")
      .item<double>();
}

at::Tensor average_precision_columns(const at::Tensor& scores, const at::Tensor& labels) {
  check_scores(scores, 2, "average precision");
  const auto positive = binary_labels(labels, "average precision");
  GOLGI_CHECK(static_cast<int64_t>(positive.size()) == scores.size(0), "average precision: scores have ",
              scores.size(0), " examples (rows) but there are ", positive.size(), " labels");
  return ap_columns(scores, nullptr, scores.size(0), positive.data(), "average precision");
}

at::Tensor average_precision_columns(const at::Tensor& scores, const std::vector<int64_t>& rows,
                                     const std::vector<uint8_t>& positive) {
  check_scores(scores, 2, "average precision");
  GOLGI_CHECK(rows.size() == positive.size(), "average precision: ", rows.size(), " rows but ", positive.size(),
              " labels");
  std::vector<uint8_t> used(static_cast<size_t>(scores.size(0)), 0);
  for (size_t i = 0; i < rows.size(); ++i) {
    GOLGI_CHECK(rows[i] >= 0 && rows[i] < scores.size(0), "average precision: row ", rows[i], " is outside 0..",
                scores.size(0) - 1);
    GOLGI_CHECK(!used[static_cast<size_t>(rows[i])], "average precision: row ", rows[i], " is listed twice");
    used[static_cast<size_t>(rows[i])] = 1;
    GOLGI_CHECK(positive[i] <= 1, "average precision: labels must be 0 or 1, got ", int(positive[i]));
  }
  return ap_columns(scores, rows.data(), static_cast<int64_t>(rows.size()), positive.data(), "average precision");
}

// -----------------------------------------------------------------------------------------------
// Examples per relation.

std::vector<RelationExamples> relation_examples(const at::Tensor& labels, const at::Tensor& correct, int64_t relations,
                                                const RelationNeuronOptions& options) {
  RelationNeuronOptions::schema().validate(options);
  GOLGI_CHECK(relations >= 2, "relation neurons: need at least 2 relations (negatives come from the others), got ",
              relations);
  GOLGI_CHECK(labels.defined(), "relation neurons: the relation labels tensor is undefined");
  GOLGI_CHECK(labels.dim() == 1, "relation neurons: relation labels must be 1-D [examples], got shape ",
              labels.sizes());
  GOLGI_CHECK(at::isIntegralType(labels.scalar_type(), /*includeBool=*/false),
              "relation neurons: relation labels must be integers (relation indices), got dtype ", labels.scalar_type());
  const std::vector<int64_t> y = integer_vector(labels);
  const int64_t E = static_cast<int64_t>(y.size());
  for (int64_t e = 0; e < E; ++e)
    GOLGI_CHECK(y[e] >= 0 && y[e] < relations, "relation neurons: relation label ", y[e], " of example ", e,
                " is outside 0..", relations - 1, " (", relations, " relations named)");
  std::vector<uint8_t> c(static_cast<size_t>(E), 1);
  if (correct.defined()) {
    c = binary_labels(correct, "relation neurons: correctness");
    GOLGI_CHECK(static_cast<int64_t>(c.size()) == E, "relation neurons: ", E, " relation labels but ", c.size(),
                " correctness flags");
  }
  std::vector<RelationExamples> out(static_cast<size_t>(relations));
  for (int64_t r = 0; r < relations; ++r) {
    RelationExamples& ex = out[static_cast<size_t>(r)];
    std::vector<int64_t> candidates;
    for (int64_t e = 0; e < E; ++e) {
      if (y[e] == r) {
        if (c[e]) ex.positives.push_back(e);
      } else if (!options.negatives_correct_only() || c[e]) {
        candidates.push_back(e);
      }
    }
    ex.negatives_requested = options.negatives_per_positive() * static_cast<int64_t>(ex.positives.size());
    ex.negatives_available = static_cast<int64_t>(candidates.size());
    const int64_t k = std::min(ex.negatives_requested, ex.negatives_available);
    // Partial Fisher-Yates: the first k of a uniformly random permutation of the candidates.
    SplitMix64 rng(derive_seed(static_cast<uint64_t>(options.seed()), "relation-neurons/negatives",
                               static_cast<uint64_t>(r)));
    const int64_t n = ex.negatives_available;
    for (int64_t i = 0; i < k; ++i) {
      const int64_t j = i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(n - i)));
      std::swap(candidates[static_cast<size_t>(i)], candidates[static_cast<size_t>(j)]);
    }
    ex.negatives.assign(candidates.begin(), candidates.begin() + k);
    std::sort(ex.negatives.begin(), ex.negatives.end());
  }
  return out;
}

// -----------------------------------------------------------------------------------------------
// Selection.

std::vector<int64_t> top_neurons(const at::Tensor& ap, int64_t n) {
  GOLGI_CHECK(ap.defined() && ap.dim() == 1, "top neurons: AP must be a 1-D tensor [neurons]");
  const at::Tensor a = ap.to(at::kDouble).contiguous();
  const int64_t N = a.numel();
  GOLGI_CHECK(n >= 0 && n <= N, "top neurons: cannot keep ", n, " of ", N, " neurons");
  const double* d = a.data_ptr<double>();
  for (int64_t i = 0; i < N; ++i) GOLGI_CHECK(!std::isnan(d[i]), "top neurons: AP of neuron ", i, " is NaN");
  std::vector<int64_t> idx(static_cast<size_t>(N));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + n, idx.end(),
                    [d](int64_t i, int64_t j) { return d[i] > d[j] || (d[i] == d[j] && i < j); });
  idx.resize(static_cast<size_t>(n));
  return idx;
}

int64_t intersection_size(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const std::set<int64_t> sa(a.begin(), a.end());
  const std::set<int64_t> sb(b.begin(), b.end());
  int64_t n = 0;
  for (int64_t x : sa) n += sb.count(x) ? 1 : 0;
  return n;
}

double jaccard(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const std::set<int64_t> sa(a.begin(), a.end());
  const std::set<int64_t> sb(b.begin(), b.end());
  const int64_t inter = intersection_size(a, b);
  const int64_t uni = static_cast<int64_t>(sa.size() + sb.size()) - inter;
  return uni == 0 ? 0.0 : static_cast<double>(inter) / static_cast<double>(uni);
}

RelationNeuronSelection select_relation_neurons(const at::Tensor& responses, const at::Tensor& labels,
                                                const at::Tensor& correct, const std::vector<std::string>& relations,
                                                const RelationNeuronOptions& options) {
  RelationNeuronOptions::schema().validate(options);
  check_scores(responses, 2, "relation neurons: responses");
  const int64_t R = static_cast<int64_t>(relations.size());
  GOLGI_CHECK(R >= 2, "relation neurons: need at least 2 relations (negatives come from the others), got ", R);
  std::set<std::string> unique;
  for (const auto& r : relations) {
    GOLGI_CHECK(!r.empty(), "relation neurons: a relation name is empty");
    GOLGI_CHECK(unique.insert(r).second, "relation neurons: relation '", r, "' is named twice");
  }
  const int64_t E = responses.size(0), N = responses.size(1);
  GOLGI_CHECK(N >= 1, "relation neurons: responses have no neurons (shape ", responses.sizes(), ")");
  GOLGI_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == E, "relation neurons: responses have ", E,
              " examples (rows) but the relation labels have shape ",
              labels.defined() ? labels.sizes() : at::IntArrayRef{});

  RelationNeuronSelection out;
  out.relations = relations;
  out.examples = E;
  out.neurons = N;
  out.options = options;
  if (options.top_n() > 0) {
    GOLGI_CHECK(options.top_n() <= N, "relation neurons: top_n ", options.top_n(), " exceeds the ", N,
                " neurons in the responses");
    out.top_n = options.top_n();
  } else {
    out.top_n = std::min<int64_t>(N, std::max<int64_t>(1, round_half_even(options.top_rate() * static_cast<double>(N))));
  }
  const auto examples = relation_examples(labels, correct, R, options);
  const at::Tensor x = responses.contiguous();
  out.ap = at::full({R, N}, std::numeric_limits<double>::quiet_NaN(), at::TensorOptions().dtype(at::kDouble));
  for (int64_t r = 0; r < R; ++r) {
    const RelationExamples& ex = examples[static_cast<size_t>(r)];
    RelationNeuronSet set;
    set.relation = relations[static_cast<size_t>(r)];
    set.positives = static_cast<int64_t>(ex.positives.size());
    set.negatives = static_cast<int64_t>(ex.negatives.size());
    set.negatives_requested = ex.negatives_requested;
    set.negatives_available = ex.negatives_available;
    set.negatives_short = ex.negatives_short();
    set.positive_examples = ex.positives;
    set.negative_examples = ex.negatives;
    if (ex.positives.empty()) {
      set.status = "no_positives";
    } else if (ex.negatives.empty()) {
      set.status = "no_negatives";
    } else {
      std::vector<int64_t> rows;
      std::vector<uint8_t> positive;
      rows.reserve(ex.positives.size() + ex.negatives.size());
      for (int64_t e : ex.positives) rows.push_back(e);
      for (int64_t e : ex.negatives) rows.push_back(e);
      positive.assign(rows.size(), 0);
      std::fill(positive.begin(), positive.begin() + static_cast<int64_t>(ex.positives.size()), 1);
      const at::Tensor ap = ap_columns(x, rows.data(), static_cast<int64_t>(rows.size()), positive.data(),
                                       "relation neurons: responses");
      out.ap[r].copy_(ap);
      set.neurons = top_neurons(ap, out.top_n);
      const double* d = ap.data_ptr<double>();
      for (int64_t n : set.neurons) set.ap.push_back(d[n]);
    }
    out.sets.push_back(std::move(set));
  }
  out.intersection.assign(static_cast<size_t>(R), std::vector<int64_t>(static_cast<size_t>(R), 0));
  out.jaccard.assign(static_cast<size_t>(R), std::vector<double>(static_cast<size_t>(R), 0.0));
  for (size_t i = 0; i < out.sets.size(); ++i)
    for (size_t j = 0; j < out.sets.size(); ++j) {
      out.intersection[i][j] = intersection_size(out.sets[i].neurons, out.sets[j].neurons);
      out.jaccard[i][j] = jaccard(out.sets[i].neurons, out.sets[j].neurons);
    }
  return out;
}

Json RelationNeuronSelection::to_json(const std::vector<std::string>& neuron_names) const {
  GOLGI_CHECK(neuron_names.empty() || static_cast<int64_t>(neuron_names.size()) == neurons,
              "relation neurons: ", neuron_names.size(), " neuron names for ", neurons, " neurons");
  Json j;
  j["method"] = "relation-neurons";
  j["relations"] = relations;
  j["examples"] = examples;
  j["neurons"] = neurons;
  j["top_n"] = top_n;
  j["options"] = RelationNeuronOptions::schema().to_json(options);
  Json sets_json = Json::object();
  for (const auto& s : sets) {
    Json js;
    js["status"] = s.status;
    js["positives"] = s.positives;
    js["negatives"] = s.negatives;
    js["negatives_requested"] = s.negatives_requested;
    js["negatives_available"] = s.negatives_available;
    js["negatives_short"] = s.negatives_short;
    js["neurons"] = s.neurons;
    js["ap"] = s.ap;
    if (s.ap.empty()) {
      js["ap_mean"] = nullptr;
      js["ap_min"] = nullptr;
    } else {
      js["ap_mean"] = std::accumulate(s.ap.begin(), s.ap.end(), 0.0) / static_cast<double>(s.ap.size());
      js["ap_min"] = *std::min_element(s.ap.begin(), s.ap.end());
    }
    if (!neuron_names.empty()) {
      Json names = Json::array();
      for (int64_t n : s.neurons) names.push_back(neuron_names[static_cast<size_t>(n)]);
      js["names"] = names;
    }
    sets_json[s.relation] = js;
  }
  j["sets"] = sets_json;
  j["overlap"] = {{"intersection", intersection}, {"jaccard", jaccard}};
  return j;
}

Json RelationNeuronSelection::examples_json() const {
  Json per_relation = Json::object();
  for (const auto& s : sets)
    per_relation[s.relation] = {{"positives", s.positive_examples}, {"negatives", s.negative_examples}};
  return {{"seed", options.seed()}, {"relations", relations}, {"examples", per_relation}};
}

// -----------------------------------------------------------------------------------------------
// Deactivation and cumulativity.

std::vector<std::vector<double>> accuracy_drop(const std::vector<double>& acc_orig,
                                               const std::vector<std::vector<double>>& acc_deact) {
  const size_t R = acc_orig.size();
  GOLGI_CHECK(R >= 1, "accuracy drop: no relations (acc_orig is empty)");
  auto check_accuracy = [](double a, const char* what, size_t i, size_t j) {
    GOLGI_CHECK(a >= 0.0 && a <= 1.0, "accuracy drop: ", what, "[", i, "][", j, "] = ", a,
                " is not an accuracy in [0, 1]");
  };
  for (size_t j = 0; j < R; ++j) check_accuracy(acc_orig[j], "acc_orig", 0, j);
  std::vector<std::vector<double>> out(acc_deact.size(), std::vector<double>(R, 0.0));
  for (size_t i = 0; i < acc_deact.size(); ++i) {
    GOLGI_CHECK(acc_deact[i].size() == R, "accuracy drop: acc_deact row ", i, " has ", acc_deact[i].size(),
                " entries, expected one per relation (", R, ")");
    for (size_t j = 0; j < R; ++j) {
      check_accuracy(acc_deact[i][j], "acc_deact", i, j);
      out[i][j] = acc_orig[j] == 0.0 ? std::numeric_limits<double>::quiet_NaN()
                                     : (acc_orig[j] - acc_deact[i][j]) / acc_orig[j];
    }
  }
  return out;
}

std::vector<double> average_ranks(const std::vector<double>& x) {
  const size_t n = x.size();
  for (size_t i = 0; i < n; ++i) GOLGI_CHECK(!std::isnan(x[i]), "ranks: value ", i, " is NaN");
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&x](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> ranks(n);
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j + 1 < n && x[idx[j + 1]] == x[idx[i]]) ++j;
    // Positions i..j (0-based) share the mean of the 1-based ranks i+1..j+1.
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) ranks[idx[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  GOLGI_CHECK(x.size() == y.size(), "spearman: ", x.size(), " x values but ", y.size(), " y values");
  GOLGI_CHECK(x.size() >= 2, "spearman: need at least 2 pairs, got ", x.size());
  const auto rx = average_ranks(x);
  const auto ry = average_ranks(y);
  const double n = static_cast<double>(x.size());
  const double mean = (n + 1.0) / 2.0;  // the mean of average ranks is always (n + 1) / 2
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    const double dx = rx[i] - mean, dy = ry[i] - mean;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx == 0.0 || syy == 0.0) return std::numeric_limits<double>::quiet_NaN();
  return sxy / std::sqrt(sxx * syy);
}

}  // namespace golgi::methods
