#include "golgi/methods/snmf/snmf_features.h"

#include <algorithm>
#include <map>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/data/dataset.h"
#include "golgi/hooks/activation_store.h"
#include "golgi/tokenize/tokenizer.h"
#include "golgi/train/language_model.h"

namespace golgi::methods {

namespace {

bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one.
size_t utf8_length(const std::string& s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k)
    if (!continuation(static_cast<unsigned char>(s[i + k]))) return 0;
  return len;
}

// Valid UTF-8 (JSON needs it): every invalid byte becomes U+FFFD.
std::string valid_utf8(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_length(s, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, len);
      i += len;
    }
  }
  return out;
}

// The last <= n bytes of s, starting at a character boundary.
std::string utf8_tail(const std::string& s, int64_t n) {
  size_t start = s.size() > static_cast<size_t>(n) ? s.size() - static_cast<size_t>(n) : 0;
  // A leading continuation byte belongs to a character whose first byte was cut off (or never there).
  while (start < s.size() && continuation(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

// The first <= n bytes of s, ending at a character boundary.
std::string utf8_head(const std::string& s, int64_t n) {
  size_t end = std::min(s.size(), static_cast<size_t>(n));
  while (end > 0 && end < s.size() && continuation(static_cast<unsigned char>(s[end]))) --end;
  return s.substr(0, end);
}

}  // namespace

TopRowsAccumulator::TopRowsAccumulator(int64_t columns, int64_t top) : columns_(columns), top_(top) {
  GOLGI_CHECK(columns >= 0, "top rows: the number of columns must be >= 0, got ", columns);
  GOLGI_CHECK(top >= 1, "top rows: --top must be >= 1, got ", top);
}

void TopRowsAccumulator::add(const at::Tensor& chunk) {
  GOLGI_CHECK(chunk.defined() && chunk.dim() == 2 && chunk.size(1) == columns_, "top rows: a chunk must be [m, ",
              columns_, "], got ", chunk.defined() ? chunk.sizes() : at::IntArrayRef{});
  if (chunk.size(0) == 0) return;
  torch::NoGradGuard no_grad;
  const int64_t b = rows_seen_;
  rows_seen_ += chunk.size(0);
  // Sorting by (value desc, row asc) keeps ties deterministic: rows arrive in ascending order, the
  // merge puts the kept (earlier) rows first, and a stable sort keeps that order among equals.
  const int64_t k = std::min(top_, chunk.size(0));
  auto [values, rows] = torch::sort(chunk.to(torch::kDouble), /*stable=*/true, /*dim=*/0, /*descending=*/true);
  values = values.slice(0, 0, k);
  rows = rows.slice(0, 0, k) + b;
  if (best_values_.defined()) {
    values = torch::cat({best_values_, values}, 0);
    rows = torch::cat({best_rows_, rows}, 0);
    auto [sorted, order] = torch::sort(values, /*stable=*/true, /*dim=*/0, /*descending=*/true);
    const int64_t keep = std::min(top_, sorted.size(0));
    values = sorted.slice(0, 0, keep);
    rows = rows.gather(0, order).slice(0, 0, keep);
  }
  best_values_ = values.contiguous();
  best_rows_ = rows.contiguous();
}

TopRows TopRowsAccumulator::result() const {
  TopRows out(static_cast<size_t>(columns_));
  if (!best_values_.defined()) return out;
  const at::Tensor v = best_values_.t().contiguous(), r = best_rows_.t().contiguous();
  const double* vp = v.data_ptr<double>();
  const int64_t* rp = r.data_ptr<int64_t>();
  const int64_t kept = v.size(1);
  for (int64_t k = 0; k < columns_; ++k)
    for (int64_t i = 0; i < kept; ++i) {
      const double value = vp[k * kept + i];
      if (value > 0) out[static_cast<size_t>(k)].emplace_back(rp[k * kept + i], value);
    }
  return out;
}

TopRows snmf_top_rows(const at::Tensor& G, int64_t top, int64_t chunk_rows) {
  GOLGI_CHECK(G.defined() && G.dim() == 2, "snmf: G must be [n, K], got ", G.defined() ? G.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(top >= 1, "snmf: --top must be >= 1, got ", top);
  GOLGI_CHECK(chunk_rows >= 1, "snmf: chunk_rows must be >= 1");
  TopRowsAccumulator top_rows(G.size(1), top);
  for (int64_t b = 0; b < G.size(0); b += chunk_rows) top_rows.add(G.slice(0, b, std::min(G.size(0), b + chunk_rows)));
  return top_rows.result();
}

StoreWindows load_store_windows(const hooks::ActivationStoreReader& store) {
  GOLGI_CHECK(store.token_rows(), "snmf: the store has one row per sample, so it has no text windows");
  const Json& d = store.index().at("dataset");
  train::LmDataOptions o;
  o.corpus = d.value("corpus", std::string());
  o.data_dir = d.value("data_dir", std::string());
  o.seed = d.value("seed", uint64_t{0});
  o.seq_len = d.value("seq_len", int64_t{256});
  o.balance = d.value("balance", 1.0);
  o.tokenizer = d.value("tokenizer", std::string("byte"));
  GOLGI_CHECK(!o.corpus.empty(), "snmf: the token store's index.json records no corpus; re-record it with `golgi record`");
  auto lm = train::load_lm_data(o);
  const std::string split = d.value("split", std::string("test"));
  StoreWindows w;
  w.windows = split == "train" ? lm.train : split == "val" ? lm.val : lm.test;
  const int64_t per_language = d.value("per_language", int64_t{0});
  if (per_language > 0) w.windows = train::per_language_subset(w.windows, per_language);
  GOLGI_CHECK(w.windows->size() == d.value("windows", w.windows->size()), "snmf: rebuilding the store's windows gave ",
              w.windows->size(), " windows, but it was recorded from ", d.value("windows", int64_t{0}),
              "; the corpus or tokenizer changed since recording");
  w.languages = lm.languages;
  w.tokenizer = lm.tokenizer;
  return w;
}

Json token_context(const tokenize::Tokenizer& tokenizer, const at::Tensor& window, int64_t position,
                   int64_t before_bytes, int64_t after_bytes) {
  const at::Tensor ids_tensor = window.to(torch::kLong).contiguous();
  const int64_t* ids = ids_tensor.data_ptr<int64_t>();
  const int64_t length = ids_tensor.numel();
  GOLGI_CHECK(position >= 0 && position < length && ids[position] >= 0, "snmf: position ", position,
              " is not a token of its window");
  // Enough tokens for the byte budget (every token is at least one byte) and for the rest of a
  // character cut at its edge (at most 3 more bytes); the text is cut to the budget below.
  std::vector<int64_t> before, after;
  for (int64_t p = std::max<int64_t>(0, position - before_bytes - 3); p < position; ++p)
    if (ids[p] >= 0) before.push_back(ids[p]);
  for (int64_t p = position + 1; p < std::min(length, position + 4 + after_bytes) && ids[p] >= 0; ++p)
    after.push_back(ids[p]);
  // A byte-level token may be part of a character: the token shows the whole character, so the
  // text on both sides starts and ends at character boundaries.
  const std::string before_text = tokenizer.decode(before), token_text = tokenizer.decode({ids[position]});
  const std::string full = before_text + token_text + tokenizer.decode(after);
  size_t begin = before_text.size(), end = begin + token_text.size();
  while (begin > 0 && begin < full.size() && continuation(static_cast<unsigned char>(full[begin]))) --begin;
  while (end < full.size() && continuation(static_cast<unsigned char>(full[end]))) ++end;
  Json j;
  j["before"] = valid_utf8(utf8_tail(full.substr(0, begin), before_bytes));
  j["token"] = valid_utf8(full.substr(begin, end - begin));
  j["after"] = valid_utf8(utf8_head(full.substr(end), after_bytes));
  j["context"] = j["before"].get<std::string>() + "[[" + j["token"].get<std::string>() + "]]" +
                 j["after"].get<std::string>();
  return j;
}

Json top_row_examples(const std::vector<std::pair<int64_t, double>>& rows, const hooks::ActivationStoreReader& store,
                      const StoreWindows* windows, const SnmfFeatureOptions& options, std::string* summary) {
  const bool text = windows != nullptr && store.token_rows();
  Json examples = Json::array();
  std::map<std::string, int64_t> token_count, language_count;
  for (const auto& [row, value] : rows) {
    GOLGI_CHECK(row >= 0 && row < store.rows(), "top rows: row ", row, " is not in the store's ", store.rows(), " rows");
    Json e = {{"row", row}, {"sample", store.sample_ids(row, row + 1).item<int64_t>()}, {"value", value}};
    if (store.token_rows()) e["position"] = store.positions(row, row + 1).item<int64_t>();
    if (text) {
      const int64_t sample = e["sample"].get<int64_t>();
      GOLGI_CHECK(sample >= 0 && sample < windows->windows->size(), "snmf: store row ", row, " names window ", sample,
                  " of ", windows->windows->size());
      const int64_t language = windows->windows->targets()[sample].item<int64_t>();
      e["language"] = language >= 0 && language < static_cast<int64_t>(windows->languages.size())
                          ? windows->languages[static_cast<size_t>(language)]
                          : std::string();
      Json c = token_context(*windows->tokenizer, windows->windows->inputs()[sample], e["position"].get<int64_t>(),
                             options.context_before, options.context_after);
      e["token"] = c["token"];
      e["context"] = c["context"];
      ++token_count[c["token"].get<std::string>()];
      ++language_count[e["language"].get<std::string>()];
    }
    examples.push_back(e);
  }
  // A one-line description: the most frequent tokens among the top examples and their main language.
  if (summary) {
    summary->clear();
    if (text && !examples.empty()) {
      std::vector<std::pair<std::string, int64_t>> tokens(token_count.begin(), token_count.end());
      std::stable_sort(tokens.begin(), tokens.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
      for (size_t i = 0; i < std::min<size_t>(3, tokens.size()); ++i)
        *summary += (i ? " " : "") + Json(tokens[i].first).dump();
      auto language = std::max_element(language_count.begin(), language_count.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
      *summary += " · " + language->first + " " + std::to_string(language->second) + "/" +
                  std::to_string(examples.size());
    }
  }
  return examples;
}

Json snmf_feature_summaries(const at::Tensor& F, const at::Tensor& G, const hooks::ActivationStoreReader& store,
                            const StoreWindows* windows, const SnmfFeatureOptions& options) {
  GOLGI_CHECK(F.dim() == 2 && G.dim() == 2 && F.size(1) == G.size(1), "snmf: F [d, K] and G [n, K] must agree on K");
  GOLGI_CHECK(G.size(0) == store.rows(), "snmf: G has ", G.size(0), " rows but the store has ", store.rows());
  const auto top = snmf_top_rows(G, options.top, options.chunk_rows);
  const at::Tensor F64 = F.to(torch::kDouble).contiguous();
  Json features = Json::array();
  for (int64_t k = 0; k < F.size(1); ++k) {
    const at::Tensor column = F64.select(1, k);
    const at::Tensor nonzero = column.ne(0).nonzero().squeeze(1);
    const at::Tensor order = std::get<1>(column.index_select(0, nonzero).abs().sort(/*stable=*/true, 0, true));
    Json neurons = Json::array();
    for (int64_t i = 0; i < order.size(0); ++i) {
      const int64_t j = nonzero[order[i].item<int64_t>()].item<int64_t>();
      neurons.push_back({{"neuron", j}, {"weight", column[j].item<double>()}});
    }
    std::string summary;
    Json examples = top_row_examples(top[static_cast<size_t>(k)], store, windows, options, &summary);
    if (summary.empty()) summary = std::to_string(neurons.size()) + " neurons";
    features.push_back({{"feature", k}, {"neurons", neurons}, {"top_examples", examples}, {"summary", summary}});
  }
  return features;
}

}  // namespace golgi::methods
