// LM-head decoding of MLP neurons (paper id `lmhead-decode`): see lmhead_decode.h for the equations.
#include "golgi/methods/lmhead_decode/lmhead_decode.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "golgi/models/transformer.h"

namespace golgi::methods {

const OptionSchema<LmheadDecodeOptions>& LmheadDecodeOptions::schema() {
  static const auto schema =
      OptionSchema<LmheadDecodeOptions>("lmhead_decode")
          .add("top_k", &LmheadDecodeOptions::top_k_, "tokens kept per neuron (largest logits first)",
               at_least<int64_t>(1))
          .add("chunk_size", &LmheadDecodeOptions::chunk_size_,
               "neuron vectors per matrix product; the logits block is chunk_size x vocab floats",
               at_least<int64_t>(1))
          .add("apply_final_norm", &LmheadDecodeOptions::apply_final_norm_,
               "multiply each vector by the final norm's gain (ln_final weight; no centering, no bias) first")
          .add("side", &LmheadDecodeOptions::side_,
               "input: the up-projection row the neuron reads with; output: the down-projection column it writes",
               {"input", "output"})
          .add("layers", &LmheadDecodeOptions::layers_, "layers to decode (empty: all)", at_least<int64_t>(0));
  return schema;
}

namespace {

// --- The fused row pass ------------------------------------------------------------------------

// Inserts (v, id) into vals/ids, sorted descending, holding `filled` of at most k entries. An equal
// value goes after the entries already there, which have lower ids (the row is scanned in order),
// so ties keep the lower id first. When full, the last entry drops out.
inline void insert_top(float v, int64_t id, float* vals, int64_t* ids, int64_t& filled, int64_t k) {
  int64_t pos = filled < k ? filled++ : k - 1;
  while (pos > 0 && vals[pos - 1] < v) {
    vals[pos] = vals[pos - 1];
    ids[pos] = ids[pos - 1];
    --pos;
  }
  vals[pos] = v;
  ids[pos] = id;
}

constexpr int64_t kBlock = 64;  // elements per block of the vectorisable inner loops

// The k largest of x[0..n) (k <= n) into vals/ids, largest first. Blocks of kBlock elements are
// first tested against the current k-th value with a branch-free loop (which the compiler
// vectorises); only blocks holding a candidate are scanned one by one, and after the first few
// thousand elements almost none do.
void top_k_row(const float* x, int64_t n, int64_t k, float* vals, int64_t* ids) {
  int64_t filled = 0, i = 0;
  for (; i < k; ++i) insert_top(x[i], i, vals, ids, filled, k);
  float threshold = vals[k - 1];
  auto scan = [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j)
      if (x[j] > threshold) {
        insert_top(x[j], j, vals, ids, filled, k);
        threshold = vals[k - 1];
      }
  };
  const int64_t head = std::min(n, (i + kBlock - 1) / kBlock * kBlock);
  scan(i, head);
  i = head;
  for (; i + kBlock <= n; i += kBlock) {
    int any = 0;
    for (int64_t j = 0; j < kBlock; ++j) any |= static_cast<int>(x[i + j] > threshold);
    if (any) scan(i, i + kBlock);
  }
  scan(i, n);
}

// exp(v) for v <= 0 in float: v = n ln 2 + r, |r| <= ln 2 / 2, exp(r) by Cephes expf's degree-5
// polynomial (relative error below 1e-7 against double exp), 2^n put in the exponent bits. Values
// below -87 are clamped there (exp(-87) ~ 2e-38 is nothing next to the row maximum's exp(0) = 1).
// Straight-line integer and float arithmetic, no branches or calls, so loops over it vectorise
// (GCC at -O2; a float comparison would not be if-converted). A NaN input is clamped like a large
// negative value, so callers detect NaN themselves (is_nan_bits).
inline int32_t float_bits(float v) {
  int32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}
inline float bits_float(int32_t b) {
  float v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}
constexpr int32_t kSignBit = static_cast<int32_t>(0x80000000u);
constexpr int32_t kAbsMask = 0x7fffffff;
constexpr int32_t kInfBits = 0x7f800000;
inline int32_t is_nan_bits(float v) { return static_cast<int32_t>((float_bits(v) & kAbsMask) > kInfBits); }

inline float exp_nonpositive(float v) {
  const int32_t limit = 0x42ae0000;  // bits of 87.0f
  const int32_t b = float_bits(v) & kAbsMask;
  const int32_t over = b - limit;
  v = bits_float((limit + (over & (over >> 31))) | kSignBit);  // -min(|v|, 87), branch-free
  constexpr float kMagic = 12582912.0f;                         // 1.5 * 2^23: adding it rounds to an integer
  const float t = v * 1.44269504088896341f + kMagic;
  const float fn = t - kMagic;
  const int32_t n = float_bits(t) - float_bits(kMagic);
  float r = v - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  const float z = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * z + r + 1.0f;
  return y * bits_float((n + 127) << 23);
}

// Σ exp(x[i] - m) over x[0..n), or NaN when some x[i] is NaN. Lane-wise float partial sums over
// blocks (vectorised; no reassociation needed), flushed into a double every 16 blocks so no float
// sum runs long.
double sum_exp(const float* __restrict x, int64_t n, float m) {
  constexpr int kLanes = 16;
  double total = 0;
  int32_t nan = 0;
  int64_t i = 0;
  while (i + kBlock <= n) {
    float acc[kLanes] = {};
    for (int b = 0; b < 16 && i + kBlock <= n; ++b, i += kBlock) {
      float e[kBlock];
      for (int64_t j = 0; j < kBlock; ++j) {
        nan |= is_nan_bits(x[i + j]);
        e[j] = exp_nonpositive(x[i + j] - m);
      }
      for (int64_t j = 0; j < kBlock; j += kLanes)
        for (int l = 0; l < kLanes; ++l) acc[l] += e[j + l];
    }
    double s = 0;
    for (int l = 0; l < kLanes; ++l) s += acc[l];
    total += s;
  }
  for (; i < n; ++i) {
    nan |= is_nan_bits(x[i]);
    total += exp_nonpositive(x[i] - m);
  }
  return nan ? std::numeric_limits<double>::quiet_NaN() : total;
}

// One row: top-k, max (= the top value), normaliser, probabilities. False when the row holds a
// non-finite value (NaN or infinity makes the max or the sum non-finite).
bool row_pass(const float* x, int64_t n, int64_t k, int64_t* ids, float* vals, float* probs, float* lse) {
  top_k_row(x, n, k, vals, ids);
  const float m = vals[0];
  if (!std::isfinite(m)) return false;
  const double s = sum_exp(x, n, m);
  if (!std::isfinite(s) || !(s > 0)) return false;
  const double log_s = std::log(s);
  for (int64_t j = 0; j < k; ++j) {
    if (!std::isfinite(vals[j])) return false;
    probs[j] = static_cast<float>(std::exp(static_cast<double>(vals[j]) - static_cast<double>(m) - log_s));
  }
  *lse = static_cast<float>(static_cast<double>(m) + log_s);
  return true;
}

// Runs row_pass over `rows` rows of `block` (contiguous [>= rows, V] float32), writing rows
// [offset, offset + rows) of `out`. Throws naming the first bad row (as out's row index).
void block_pass(const at::Tensor& block, int64_t rows, int64_t k, TopKSoftmax& out, int64_t offset) {
  const int64_t n = block.size(1);
  const float* x = block.data_ptr<float>();
  int64_t* ids = out.ids.data_ptr<int64_t>() + offset * k;
  float* vals = out.logits.data_ptr<float>() + offset * k;
  float* probs = out.probs.data_ptr<float>() + offset * k;
  float* lse = out.log_normaliser.data_ptr<float>() + offset;
  std::atomic<int64_t> bad{std::numeric_limits<int64_t>::max()};
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(n, 1));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      if (!row_pass(x + r * n, n, k, ids + r * k, vals + r * k, probs + r * k, lse + r)) {
        int64_t seen = bad.load();
        while (r < seen && !bad.compare_exchange_weak(seen, r)) {
        }
      }
  });
  GOLGI_CHECK(bad.load() == std::numeric_limits<int64_t>::max(), "lmhead decode: row ", offset + bad.load(),
              " has a non-finite logit (NaN or infinity); check the weights for NaN/inf or overflow");
}

TopKSoftmax allocate(int64_t rows, int64_t k) {
  TopKSoftmax out;
  out.ids = torch::empty({rows, k}, torch::kLong);
  out.probs = torch::empty({rows, k}, torch::kFloat);
  out.logits = torch::empty({rows, k}, torch::kFloat);
  out.log_normaliser = torch::empty({rows}, torch::kFloat);
  return out;
}

void check_k(int64_t k, int64_t vocab) {
  GOLGI_CHECK(k >= 1 && k <= vocab, "lmhead decode: top_k must be in [1, ", vocab, "] (the vocabulary size), got ",
              k);
}

// Decodes vectors [n, d] into rows [offset, offset + n) of `out`; progress reports done + offset.
void decode_into(const at::Tensor& W_U_t, const at::Tensor& vectors, int64_t k, int64_t chunk_size,
                 const at::Tensor& gain, TopKSoftmax& out, int64_t offset, int64_t total, at::Tensor& buffer,
                 const DecodeProgress& progress) {
  const int64_t n = vectors.size(0), vocab = W_U_t.size(1);
  for (int64_t start = 0; start < n; start += chunk_size) {
    const int64_t rows = std::min(chunk_size, n - start);
    at::Tensor chunk = vectors.narrow(0, start, rows);
    if (gain.defined()) chunk = chunk * gain;
    at::Tensor block = buffer.narrow(0, 0, rows);
    at::mm_out(block, chunk, W_U_t);
    GOLGI_ASSERT(block.is_contiguous() && block.size(1) == vocab, "logits block must be contiguous [rows, vocab]");
    block_pass(block, rows, k, out, offset + start);
    if (progress) progress(offset + start + rows, total);
  }
}

at::Tensor as_float_matrix(const at::Tensor& t, const char* what) {
  GOLGI_CHECK(t.defined(), "lmhead decode: ", what, " is an undefined tensor");
  GOLGI_CHECK(t.dim() == 2, "lmhead decode: ", what, " must be a matrix, got shape ", t.sizes());
  GOLGI_CHECK(t.is_floating_point(), "lmhead decode: ", what, " must be floating point, got ", t.scalar_type());
  return t.detach().to(torch::kFloat);
}

at::Tensor checked_gain(const at::Tensor& gain, int64_t d) {
  if (!gain.defined()) return gain;
  GOLGI_CHECK(gain.dim() == 1 && gain.size(0) == d, "lmhead decode: the gain must be [", d,
              "] (d_model), got shape ", gain.sizes());
  GOLGI_CHECK(gain.is_floating_point(), "lmhead decode: the gain must be floating point, got ", gain.scalar_type());
  at::Tensor g = gain.detach().to(torch::kFloat).contiguous();
  GOLGI_CHECK(at::isfinite(g).all().item<bool>(), "lmhead decode: the final norm's gain has NaN or infinite entries");
  return g;
}

}  // namespace

TopKSoftmax softmax_top_k(const at::Tensor& logits, int64_t k) {
  GOLGI_CHECK(logits.defined(), "softmax_top_k: the logits are an undefined tensor");
  GOLGI_CHECK(logits.dim() == 2, "softmax_top_k: logits must be [rows, vocab], got shape ", logits.sizes());
  GOLGI_CHECK(logits.scalar_type() == at::kFloat, "softmax_top_k: logits must be float32, got ",
              logits.scalar_type());
  check_k(k, logits.size(1));
  at::Tensor x = logits.contiguous();
  TopKSoftmax out = allocate(x.size(0), k);
  block_pass(x, x.size(0), k, out, 0);
  return out;
}

TopKSoftmax decode_vectors(const at::Tensor& W_U, const at::Tensor& vectors, int64_t k, int64_t chunk_size,
                           const at::Tensor& gain, const DecodeProgress& progress) {
  torch::NoGradGuard no_grad;
  const at::Tensor w = as_float_matrix(W_U, "W_U (the unembedding, [vocab, d_model])").contiguous();
  const at::Tensor v = as_float_matrix(vectors, "the neuron vectors ([neurons, d_model])");
  GOLGI_CHECK(v.size(1) == w.size(1), "lmhead decode: the vectors have ", v.size(1), " entries each but W_U has d_model ",
              w.size(1), " (vectors [n, d] against W_U [vocab, d])");
  GOLGI_CHECK(w.size(0) >= 1 && w.size(1) >= 1, "lmhead decode: W_U is empty, shape ", w.sizes());
  check_k(k, w.size(0));
  GOLGI_CHECK(chunk_size >= 1, "lmhead decode: chunk_size must be >= 1, got ", chunk_size);
  const at::Tensor g = checked_gain(gain, w.size(1));
  TopKSoftmax out = allocate(v.size(0), k);
  at::Tensor buffer = torch::empty({std::min(chunk_size, std::max<int64_t>(v.size(0), 1)), w.size(0)}, torch::kFloat);
  decode_into(w.t(), v, k, chunk_size, g, out, 0, v.size(0), buffer, progress);
  return out;
}

// --- Transformer pieces --------------------------------------------------------------------------

at::Tensor unembedding(const models::TransformerLM& model) {
  const at::Tensor& w = model.config().tie_embeddings ? model.W_E : model.W_U;
  GOLGI_ASSERT(w.defined(), "transformer without an unembedding");
  return w.detach().to(torch::kFloat);
}

at::Tensor final_norm_gain(const models::TransformerLM& model) {
  return model.ln_final->w.detach().to(torch::kFloat);
}

at::Tensor neuron_vectors(const models::TransformerLM& model, int64_t layer, const std::string& side) {
  const auto& c = model.config();
  GOLGI_CHECK(layer >= 0 && layer < c.n_layers, "lmhead decode: layer ", layer, " is out of range; the model has ",
              c.n_layers, " layers (0..", c.n_layers - 1, ")");
  GOLGI_CHECK(side == "input" || side == "output", "lmhead decode: side must be 'input' or 'output', got '", side,
              "'");
  const auto& mlp = *model.block(layer).mlp;
  at::Tensor v;
  if (side == "input")
    v = c.gated_mlp ? mlp.W_gate_up.narrow(0, c.d_mlp, c.d_mlp) : mlp.W_in;  // rows: gate, then up
  else
    v = (c.gated_mlp ? mlp.W_down : mlp.W_out).t();  // [d_model, d_mlp] -> [d_mlp, d_model]
  return v.detach().to(torch::kFloat);
}

// --- Whole model ---------------------------------------------------------------------------------

LmheadDecodeResult decode_neurons(const models::TransformerLM& model, const LmheadDecodeOptions& options,
                                  const DecodeProgress& progress) {
  LmheadDecodeOptions::schema().validate(options);
  torch::NoGradGuard no_grad;
  const auto& c = model.config();
  LmheadDecodeResult result;
  result.architecture = model.architecture();
  result.side = options.side();
  result.apply_final_norm = options.apply_final_norm();
  result.top_k = options.top_k();
  result.chunk_size = options.chunk_size();
  result.vocab_size = c.vocab_size;
  result.d_model = c.d_model;
  result.d_mlp = c.d_mlp;
  result.layers = options.layers();
  if (result.layers.empty())
    for (int64_t l = 0; l < c.n_layers; ++l) result.layers.push_back(l);
  for (size_t i = 0; i < result.layers.size(); ++i) {
    const int64_t l = result.layers[i];
    GOLGI_CHECK(l >= 0 && l < c.n_layers, "option 'lmhead_decode.layers': layer ", l,
                " is out of range; the model has ", c.n_layers, " layers (0..", c.n_layers - 1, ")");
    for (size_t j = 0; j < i; ++j)
      GOLGI_CHECK(result.layers[j] != l, "option 'lmhead_decode.layers': layer ", l, " is listed twice");
  }
  const at::Tensor w = unembedding(model).contiguous();
  check_k(options.top_k(), w.size(0));
  GOLGI_CHECK(at::isfinite(w).all().item<bool>(), "lmhead decode: the unembedding has NaN or infinite entries");
  const at::Tensor gain = options.apply_final_norm() ? checked_gain(final_norm_gain(model), c.d_model) : at::Tensor();

  const auto t0 = std::chrono::steady_clock::now();
  const int64_t total = result.rows();
  result.decoded = allocate(total, options.top_k());
  at::Tensor buffer = torch::empty({std::min(options.chunk_size(), c.d_mlp), w.size(0)}, torch::kFloat);
  for (size_t i = 0; i < result.layers.size(); ++i) {
    const at::Tensor v = neuron_vectors(model, result.layers[i], options.side());
    decode_into(w.t(), v, options.top_k(), options.chunk_size(), gain, result.decoded,
                static_cast<int64_t>(i) * c.d_mlp, total, buffer, progress);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result.gflop = 2.0 * static_cast<double>(total) * static_cast<double>(c.vocab_size) * static_cast<double>(c.d_model) / 1e9;
  return result;
}

std::string LmheadDecodeResult::ref(int64_t row) const {
  GOLGI_CHECK(row >= 0 && row < rows(), "lmhead decode: row ", row, " is out of range [0, ", rows(), ")");
  return "blocks." + std::to_string(layers[static_cast<size_t>(row / d_mlp)]) + ".mlp.hook_post:" +
         std::to_string(row % d_mlp);
}

std::string LmheadDecodeResult::vector_name(int64_t row) const {
  GOLGI_CHECK(row >= 0 && row < rows(), "lmhead decode: row ", row, " is out of range [0, ", rows(), ")");
  const std::string l = std::to_string(layers[static_cast<size_t>(row / d_mlp)]);
  const std::string j = std::to_string(row % d_mlp);
  if (architecture == "gpt2")
    return side == "input" ? "transformer.h." + l + ".mlp.c_fc.weight[:," + j + "]"
                           : "transformer.h." + l + ".mlp.c_proj.weight[" + j + ",:]";
  return side == "input" ? "model.layers." + l + ".mlp.up_proj.weight[" + j + ",:]"
                         : "model.layers." + l + ".mlp.down_proj.weight[:," + j + "]";
}

Json LmheadDecodeResult::to_json(const std::function<std::string(int64_t)>& token_text, bool with_neurons) const {
  Json out = {{"method", "lmhead-decode"},
              {"architecture", architecture},
              {"side", side},
              {"apply_final_norm", apply_final_norm},
              {"top_k", top_k},
              {"chunk_size", chunk_size},
              {"vocab_size", vocab_size},
              {"d_model", d_model},
              {"d_mlp", d_mlp},
              {"layers", layers},
              {"seconds", seconds},
              {"gflop", gflop},
              {"gflops", seconds > 0 ? gflop / seconds : 0.0}};
  if (!with_neurons) return out;
  Json neurons = Json::array();
  const int64_t n = rows(), k = top_k;
  GOLGI_ASSERT(decoded.ids.defined() && decoded.ids.size(0) == n, "decoded rows do not match the layers");
  const at::Tensor ids = decoded.ids.contiguous(), probs = decoded.probs.contiguous(),
                   logits = decoded.logits.contiguous(), lse = decoded.log_normaliser.contiguous();
  const int64_t* id = ids.data_ptr<int64_t>();
  const float* p = probs.data_ptr<float>();
  const float* z = logits.data_ptr<float>();
  const float* ln = lse.data_ptr<float>();
  for (int64_t r = 0; r < n; ++r) {
    Json entry = {{"ref", ref(r)},
                  {"layer", layers[static_cast<size_t>(r / d_mlp)]},
                  {"neuron", r % d_mlp},
                  {"vector", vector_name(r)},
                  {"token_ids", std::vector<int64_t>(id + r * k, id + (r + 1) * k)},
                  {"probs", std::vector<float>(p + r * k, p + (r + 1) * k)},
                  {"logits", std::vector<float>(z + r * k, z + (r + 1) * k)},
                  {"log_normaliser", ln[r]}};
    if (token_text) {
      Json tokens = Json::array();
      for (int64_t j = 0; j < k; ++j) tokens.push_back(token_text(id[r * k + j]));
      entry["tokens"] = std::move(tokens);
    }
    neurons.push_back(std::move(entry));
  }
  out["neurons"] = std::move(neurons);
  return out;
}

std::string token_display(const std::string& bytes) {
  std::string out;
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  auto escape = [&out](unsigned char b) {
    static const char* kHex = "0123456789ABCDEF";
    out += "<0x";
    out += kHex[b >> 4];
    out += kHex[b & 15];
    out += '>';
  };
  while (i < n) {
    const unsigned char b = s[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      len = 1;
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    }
    bool ok = len > 0 && i + len <= n;
    for (size_t j = 1; ok && j < len; ++j) {
      ok = (s[i + j] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not valid UTF-8 either.
    if (ok) {
      static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(bytes, i, len);
      i += len;
    } else {
      escape(b);
      ++i;
    }
  }
  return out;
}

}  // namespace golgi::methods
