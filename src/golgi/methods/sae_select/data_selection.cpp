#include "golgi/methods/sae_select/data_selection.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/core/strings.h"
#include "golgi/hooks/activation_cache.h"
#include "golgi/io/atomic_file.h"

namespace golgi::methods {

namespace {

void check_pair(const at::Tensor& rows, const at::Tensor& b, const char* what) {
  GOLGI_CHECK(rows.defined() && b.defined(), what, ": both inputs must be defined tensors");
  GOLGI_CHECK(b.dim() == 1, what, ": the prototype must be a vector [K], got ", b.dim(), " dimensions");
  GOLGI_CHECK(rows.dim() == 2, what, ": the rows must be a matrix [n, K], got ", rows.dim(), " dimensions");
  GOLGI_CHECK(rows.size(1) == b.size(0), what, ": shape mismatch, rows have ", rows.size(1),
              " entries but the prototype has ", b.size(0));
}

}  // namespace

at::Tensor generalized_jaccard_rows(const at::Tensor& rows, const at::Tensor& b) {
  check_pair(rows, b, "generalized_jaccard");
  const at::Tensor r = rows.to(torch::kFloat64), p = b.to(torch::kFloat64);
  GOLGI_CHECK(r.numel() == 0 || r.min().item<double>() >= 0.0,
              "generalized_jaccard: the rows have a negative entry (", r.min().item<double>(),
              "); the generalised Jaccard similarity is defined for nonnegative vectors such as SAE codes");
  GOLGI_CHECK(p.numel() == 0 || p.min().item<double>() >= 0.0,
              "generalized_jaccard: the prototype has a negative entry (", p.min().item<double>(),
              "); the generalised Jaccard similarity is defined for nonnegative vectors such as SAE codes");
  const at::Tensor expanded = p.unsqueeze(0).expand_as(r);
  const at::Tensor numerator = torch::minimum(r, expanded).sum(1);
  const at::Tensor denominator = torch::maximum(r, expanded).sum(1);
  // 0/0 (both vectors zero) is defined as 0: nothing in common is no evidence of similarity.
  return torch::where(denominator > 0, numerator / denominator.clamp_min(1e-300), torch::zeros_like(numerator));
}

double generalized_jaccard(const at::Tensor& a, const at::Tensor& b) {
  GOLGI_CHECK(a.defined() && a.dim() == 1, "generalized_jaccard: a must be a vector [K]");
  GOLGI_CHECK(b.defined() && b.dim() == 1, "generalized_jaccard: b must be a vector [K]");
  GOLGI_CHECK(a.size(0) == b.size(0), "generalized_jaccard: shape mismatch, a has ", a.size(0), " entries and b ",
              b.size(0));
  return generalized_jaccard_rows(a.unsqueeze(0), b)[0].item<double>();
}

at::Tensor cosine_rows(const at::Tensor& rows, const at::Tensor& b) {
  check_pair(rows, b, "cosine similarity");
  const at::Tensor r = rows.to(torch::kFloat64), p = b.to(torch::kFloat64);
  const at::Tensor denominator = r.norm(2, {1}) * p.norm();
  return torch::where(denominator > 0, r.matmul(p) / denominator.clamp_min(1e-300), torch::zeros({r.size(0)}, r.options()));
}

const std::vector<std::string>& selection_methods() {
  static const std::vector<std::string> methods = {"jaccard", "cosine-sae", "cosine-raw", "random"};
  return methods;
}

const OptionSchema<SelectionOptions>& SelectionOptions::schema() {
  static const auto schema =
      OptionSchema<SelectionOptions>("select")
          .add("method", &SelectionOptions::method_,
               "similarity to the task prototype: generalised Jaccard of SAE codes (the paper's), cosine of SAE "
               "codes, cosine of raw activations, or seeded random scores",
               selection_methods())
          .add("fraction", &SelectionOptions::fraction_, "share of the pool selected (top ceil(q * pool))",
               Range<double>{0.0, 1.0, false, true})
          .add("max_bytes", &SelectionOptions::max_bytes_, "bytes of each passage embedded (its start)",
               at_least<int64_t>(1))
          .add("batch_size", &SelectionOptions::batch_size_, "passages per forward pass", at_least<int64_t>(1))
          .add("seed", &SelectionOptions::seed_, "seed of the random baseline", at_least<int64_t>(0));
  return schema;
}

PassageEmbeddings pool_passage_codes(const SparseAutoencoder& sae, const at::Tensor& activations, const at::Tensor& mask) {
  GOLGI_CHECK(activations.dim() == 3, "passage embeddings: activations must be [batch, pos, d], got ",
              activations.dim(), " dimensions");
  GOLGI_CHECK(mask.dim() == 2 && mask.size(0) == activations.size(0) && mask.size(1) == activations.size(1),
              "passage embeddings: the mask must be [batch, pos] = [", activations.size(0), ", ", activations.size(1),
              "], got ", mask.sizes());
  GOLGI_CHECK(activations.size(2) == sae.d_in(), "passage embeddings: the activations have width ",
              activations.size(2), " but the SAE was trained on width ", sae.d_in());
  torch::NoGradGuard no_grad;
  const int64_t batch = activations.size(0), d = activations.size(2);
  const at::Tensor keep = mask.to(torch::kBool).reshape({-1});
  const at::Tensor owner = torch::arange(batch, torch::kLong).unsqueeze(1).expand({batch, activations.size(1)}).reshape({-1});
  const at::Tensor index = owner.masked_select(keep);                              // [m]
  // Only the counted rows are encoded: padded positions never reach the SAE or the sums.
  const at::Tensor rows = activations.reshape({-1, d}).index({keep}).to(torch::kFloat32).contiguous();  // [m, d]
  const at::Tensor codes = sae.encode(rows);                                       // [m, latents]
  PassageEmbeddings out;
  out.tokens = torch::bincount(index, {}, batch).to(torch::kLong);
  const at::Tensor count = out.tokens.to(torch::kFloat32).clamp_min(1).unsqueeze(1);
  out.sae = torch::zeros({batch, codes.size(1)}, torch::kFloat32).index_add_(0, index, codes) / count;
  out.raw = torch::zeros({batch, d}, torch::kFloat32).index_add_(0, index, rows) / count;
  return out;
}

std::vector<int64_t> passage_tokens(const tokenize::Tokenizer& tokenizer, std::optional<int64_t> separator,
                                    const std::string& text, int64_t max_bytes, int64_t max_tokens) {
  size_t end = std::min(text.size(), static_cast<size_t>(std::max<int64_t>(max_bytes, 0)));
  // Never split a UTF-8 character: back off over continuation bytes.
  while (end > 0 && end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  std::vector<int64_t> ids;
  if (separator) ids.push_back(*separator);
  const std::vector<int64_t> body = tokenizer.encode(std::string_view(text).substr(0, end));
  ids.insert(ids.end(), body.begin(), body.end());
  if (max_tokens > 0 && static_cast<int64_t>(ids.size()) > max_tokens) ids.resize(static_cast<size_t>(max_tokens));
  return ids;
}

PassageEmbeddings embed_passages(models::Model& model, const std::string& hook, const SparseAutoencoder& sae,
                                 const tokenize::Tokenizer& tokenizer, std::optional<int64_t> separator,
                                 const std::vector<std::string>& texts, const SelectionOptions& options,
                                 int64_t max_tokens, const std::string& label) {
  if (!model.has_hook(hook)) {
    const auto names = model.hook_names();
    std::string some;
    for (size_t i = 0; i < names.size() && i < 8; ++i) some += (i ? ", " : "") + names[i];
    GOLGI_FAIL("select: the model has no hook point '", hook, "'; it has ", names.size(), " hooks, e.g. ", some,
               " (golgi inspect lists them all)");
  }
  GOLGI_CHECK(options.batch_size() >= 1, "select: batch_size must be >= 1, got ", options.batch_size());
  torch::NoGradGuard no_grad;
  model.eval();
  const int64_t n = static_cast<int64_t>(texts.size());
  const int64_t skip = separator ? 1 : 0;  // position 0 holds the separator, never counted
  std::vector<at::Tensor> sae_parts, raw_parts, token_parts;
  hooks::ActivationCache cache(model, {hook}, hooks::CacheOptions().stop_after_last(true));
  Progress bar(label, n, "passage");
  for (int64_t begin = 0; begin < n; begin += options.batch_size()) {
    const int64_t end = std::min(n, begin + options.batch_size());
    std::vector<std::vector<int64_t>> ids;
    int64_t longest = 1;
    for (int64_t i = begin; i < end; ++i) {
      ids.push_back(passage_tokens(tokenizer, separator, texts[static_cast<size_t>(i)], options.max_bytes(), max_tokens));
      if (ids.back().empty()) ids.back().push_back(0);  // an empty passage without separator: one masked token
      longest = std::max<int64_t>(longest, static_cast<int64_t>(ids.back().size()));
    }
    const int64_t b = end - begin;
    // Right padding with token 0: with causal attention padded positions cannot influence the
    // real ones, and the mask keeps them out of the means.
    at::Tensor tokens = torch::zeros({b, longest}, torch::kLong);
    at::Tensor mask = torch::zeros({b, longest}, torch::kBool);
    auto tok = tokens.accessor<int64_t, 2>();
    auto msk = mask.accessor<bool, 2>();
    for (int64_t r = 0; r < b; ++r) {
      const auto& row = ids[static_cast<size_t>(r)];
      for (size_t j = 0; j < row.size(); ++j) {
        tok[r][static_cast<int64_t>(j)] = row[j];
        msk[r][static_cast<int64_t>(j)] = static_cast<int64_t>(j) >= skip;
      }
      // A passage that was empty text has only its placeholder; it stays uncounted.
      if (texts[static_cast<size_t>(begin + r)].empty()) mask[r].fill_(false);
    }
    cache.run([&] { return model.forward(tokens); });
    const at::Tensor act = cache[hook];
    GOLGI_CHECK(act.dim() == 3, "select: hook '", hook, "' records ", act.dim(),
                "-dimensional activations; passage embeddings need a [batch, pos, d] hook");
    GOLGI_CHECK(act.size(2) == sae.d_in(), "select: hook '", hook, "' has width ", act.size(2),
                " but the SAE was trained on rows of width ", sae.d_in(),
                "; pass the hook the SAE was trained on (--hook)");
    PassageEmbeddings part = pool_passage_codes(sae, act, mask);
    sae_parts.push_back(part.sae);
    raw_parts.push_back(part.raw);
    token_parts.push_back(part.tokens);
    bar.advance(b);
  }
  bar.finish();
  PassageEmbeddings out;
  if (n == 0) {
    out.sae = torch::zeros({0, sae.latents()}, torch::kFloat32);
    out.raw = torch::zeros({0, sae.d_in()}, torch::kFloat32);
    out.tokens = torch::zeros({0}, torch::kLong);
    return out;
  }
  out.sae = torch::cat(sae_parts, 0);
  out.raw = torch::cat(raw_parts, 0);
  out.tokens = torch::cat(token_parts, 0);
  return out;
}

TaskPrototype task_prototype(const PassageEmbeddings& targets) {
  GOLGI_CHECK(targets.size() > 0, "select: no target passages; give at least one passage of the task");
  return {targets.sae.to(torch::kFloat64).mean(0), targets.raw.to(torch::kFloat64).mean(0)};
}

at::Tensor score_pool(const PassageEmbeddings& pool, const TaskPrototype& prototype, const std::string& method,
                      int64_t seed) {
  GOLGI_CHECK(pool.size() > 0, "select: the pool is empty");
  if (method == "jaccard") return generalized_jaccard_rows(pool.sae, prototype.sae);
  if (method == "cosine-sae") return cosine_rows(pool.sae, prototype.sae);
  if (method == "cosine-raw") return cosine_rows(pool.raw, prototype.raw);
  if (method == "random") {
    SplitMix64 rng(derive_seed(static_cast<uint64_t>(seed), "sae-select/random"));
    at::Tensor scores = torch::empty({pool.size()}, torch::kFloat64);
    auto s = scores.accessor<double, 1>();
    for (int64_t i = 0; i < pool.size(); ++i) s[i] = rng.uniform();
    return scores;
  }
  std::string names;
  for (const auto& m : selection_methods()) names += (names.empty() ? "" : ", ") + m;
  GOLGI_FAIL("select: unknown method '", method, "'; use one of ", names);
}

std::vector<int64_t> select_top(const at::Tensor& scores, double fraction) {
  GOLGI_CHECK(fraction > 0.0 && fraction <= 1.0, "select: fraction must be in (0, 1], got ", fraction);
  GOLGI_CHECK(scores.defined() && scores.dim() == 1, "select: scores must be a vector [n]");
  const int64_t n = scores.size(0);
  GOLGI_CHECK(n > 0, "select: the pool is empty; give at least one passage");
  // The small slack keeps q·n that is an integer in exact arithmetic (0.05 · 20) from rounding up.
  const int64_t count = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(fraction * static_cast<double>(n) - 1e-9)), 1, n);
  const at::Tensor s = scores.to(torch::kFloat64).contiguous();
  const double* v = s.data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // NaN scores (none expected) sort last so they are never preferred.
  auto key = [&](int64_t i) { return std::isnan(v[i]) ? -INFINITY : v[i]; };
  std::partial_sort(order.begin(), order.begin() + count, order.end(), [&](int64_t a, int64_t b) {
    const double ka = key(a), kb = key(b);
    return ka != kb ? ka > kb : a < b;
  });
  order.resize(static_cast<size_t>(count));
  return order;
}

std::vector<Passage> read_passages(const std::string& path, const std::string& what) {
  GOLGI_CHECK(io::file_exists(path), what, " '", path, "' does not exist; give a .jsonl file (one {\"text\": ...} per line) ",
              "or a text file with one passage per line");
  const std::string content = io::read_file(path);
  const bool jsonl = ends_with(path, ".jsonl");
  std::vector<Passage> out;
  size_t start = 0;
  int64_t line_number = 0;
  while (start <= content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    std::string line = content.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      if (end == content.size()) break;
      continue;
    }
    if (jsonl) {
      Json record;
      try {
        record = Json::parse(line);
      } catch (const std::exception& e) {
        GOLGI_FAIL(what, " '", path, "' line ", line_number, " is not valid JSON (", e.what(), ")");
      }
      GOLGI_CHECK(record.is_object() && record.contains("text") && record["text"].is_string(), what, " '", path,
                  "' line ", line_number, " has no string field \"text\"; each line must be an object like {\"text\": \"...\"}");
      out.push_back({record["text"].get<std::string>(), record});
    } else {
      out.push_back({line, Json{{"text", line}}});
    }
    if (end == content.size()) break;
  }
  GOLGI_CHECK(!out.empty(), what, " '", path, "' holds no passages (every line is empty)");
  return out;
}

double domain_precision(const std::vector<int64_t>& selected, const std::vector<std::string>& domain_of,
                        const std::string& domain) {
  if (selected.empty()) return 0.0;
  int64_t hits = 0;
  for (int64_t i : selected) {
    GOLGI_CHECK(i >= 0 && i < static_cast<int64_t>(domain_of.size()), "domain_precision: index ", i,
                " is outside the pool of ", domain_of.size());
    hits += domain_of[static_cast<size_t>(i)] == domain;
  }
  return static_cast<double>(hits) / static_cast<double>(selected.size());
}

}  // namespace golgi::methods
