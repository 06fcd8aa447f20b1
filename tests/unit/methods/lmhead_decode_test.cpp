// LM-head decoding (paper id lmhead-decode): the fused row pass against a full sort and
// at::softmax, chunking, the final-norm gain, both sides of the MLP and bad input. The numpy
// cross-check on the bundled model is tests/xcheck/lmhead_decode_numpy.sh.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/methods/lmhead_decode/lmhead_decode.h"
#include "golgi/models/gpt2.h"
#include "golgi/models/llama.h"

namespace golgi::methods {
namespace {

// The reference: a stable descending sort of each row (ties: lower index first) and the softmax
// in double.
struct Reference {
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<double>> probs;
  std::vector<double> lse;
};

Reference reference(const at::Tensor& logits, int64_t k) {
  Reference out;
  const at::Tensor x = logits.to(torch::kDouble).contiguous();
  for (int64_t r = 0; r < x.size(0); ++r) {
    const double* row = x[r].data_ptr<double>();
    const int64_t n = x.size(1);
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
    const double m = row[order[0]];
    double s = 0;
    for (int64_t t = 0; t < n; ++t) s += std::exp(row[t] - m);
    out.ids.emplace_back(order.begin(), order.begin() + k);
    std::vector<double> p;
    for (int64_t j = 0; j < k; ++j) p.push_back(std::exp(row[order[j]] - m) / s);
    out.probs.push_back(p);
    out.lse.push_back(m + std::log(s));
  }
  return out;
}

void expect_matches(const TopKSoftmax& got, const Reference& want, double rtol, bool exact_ids = true) {
  const int64_t rows = got.ids.size(0), k = got.ids.size(1);
  ASSERT_EQ(rows, static_cast<int64_t>(want.ids.size()));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < k; ++j) {
      if (exact_ids) {
        EXPECT_EQ(got.ids[r][j].item<int64_t>(), want.ids[r][j]) << "row " << r << " rank " << j;
      }
      EXPECT_NEAR(got.probs[r][j].item<float>(), want.probs[r][j], rtol * want.probs[r][j] + 1e-12)
          << "row " << r << " rank " << j;
    }
    EXPECT_NEAR(got.log_normaliser[r].item<float>(), want.lse[r], 1e-5 * std::max(1.0, std::fabs(want.lse[r])));
  }
}

TEST(LmheadDecodeTopK, MatchesFullSortAndSoftmax) {
  torch::manual_seed(1);
  // Widths below, at and across the 64-element block and the first-k head.
  for (int64_t n : {1, 5, 63, 64, 65, 127, 128, 1000, 4099}) {
    const at::Tensor x = torch::randn({7, n}) * 3;
    for (int64_t k : {int64_t{1}, std::min<int64_t>(3, n), std::min<int64_t>(10, n), n}) {
      SCOPED_TRACE("n " + std::to_string(n) + " k " + std::to_string(k));
      const auto got = softmax_top_k(x, k);
      ASSERT_EQ(got.ids.sizes().vec(), (std::vector<int64_t>{7, k}));
      ASSERT_EQ(got.ids.scalar_type(), torch::kLong);
      ASSERT_EQ(got.probs.scalar_type(), torch::kFloat);
      expect_matches(got, reference(x, k), 2e-6);
      // The kept logits are the inputs at the kept ids.
      EXPECT_TRUE(torch::equal(got.logits, x.gather(1, got.ids)));
    }
  }
}

TEST(LmheadDecodeTopK, ProbabilitiesEqualAtenSoftmax) {
  torch::manual_seed(2);
  const at::Tensor x = torch::randn({5, 3000}) * 8 - 20;
  const auto got = softmax_top_k(x, 20);
  const at::Tensor want = at::softmax(x.to(torch::kDouble), 1).gather(1, got.ids).to(torch::kFloat);
  EXPECT_TRUE(torch::allclose(got.probs, want, 1e-5, 1e-12));
  EXPECT_TRUE(torch::allclose(got.log_normaliser, at::logsumexp(x.to(torch::kDouble), 1).to(torch::kFloat), 1e-6, 1e-5));
  // A full top-k (k = V) sums to one.
  const auto all = softmax_top_k(x.narrow(1, 0, 300), 300);
  EXPECT_TRUE(torch::allclose(all.probs.sum(1), torch::ones({5}), 1e-5, 0));
}

TEST(LmheadDecodeTopK, TiesKeepLowerIdsFirstAcrossBlocks) {
  // Equal values at block boundaries (63, 64, 127, 128) and in the first-k head.
  at::Tensor x = torch::zeros({3, 300});
  for (int64_t t : {2, 63, 64, 127, 128, 299}) x[0][t] = 5.0;
  x[1].fill_(1.0);  // everything tied
  for (int64_t t : {299, 128, 64, 0}) x[2][t] = 7.0;
  x[2][200] = 8.0;
  const auto got = softmax_top_k(x, 4);
  std::vector<int64_t> row0(got.ids[0].data_ptr<int64_t>(), got.ids[0].data_ptr<int64_t>() + 4);
  EXPECT_EQ(row0, (std::vector<int64_t>{2, 63, 64, 127}));
  std::vector<int64_t> row1(got.ids[1].data_ptr<int64_t>(), got.ids[1].data_ptr<int64_t>() + 4);
  EXPECT_EQ(row1, (std::vector<int64_t>{0, 1, 2, 3}));
  std::vector<int64_t> row2(got.ids[2].data_ptr<int64_t>(), got.ids[2].data_ptr<int64_t>() + 4);
  EXPECT_EQ(row2, (std::vector<int64_t>{200, 0, 64, 128}));
  EXPECT_NEAR(got.probs[1][0].item<float>(), 1.0 / 300, 1e-8);
  expect_matches(got, reference(x, 4), 1e-6);
}

TEST(LmheadDecodeTopK, ExtremeAndIncreasingValues) {
  // Increasing rows make every element a new candidate (the worst case of the streaming pass);
  // a row spanning 2000 nats underflows all but its top entries.
  at::Tensor x = torch::stack({torch::arange(0, 500, torch::kFloat), torch::linspace(-2000, 0, 500)});
  const auto got = softmax_top_k(x, 5);
  expect_matches(got, reference(x, 5), 2e-6);
  EXPECT_EQ(got.ids[0][0].item<int64_t>(), 499);
  EXPECT_EQ(got.ids[0][4].item<int64_t>(), 495);
}

TEST(LmheadDecodeTopK, BadInput) {
  const at::Tensor x = torch::randn({2, 10});
  EXPECT_THROW(softmax_top_k(x, 0), Error);
  EXPECT_THROW(softmax_top_k(x, 11), Error);
  EXPECT_THROW(softmax_top_k(x.to(torch::kDouble), 3), Error);
  EXPECT_THROW(softmax_top_k(torch::randn({10}), 3), Error);
  EXPECT_THROW(softmax_top_k(at::Tensor(), 3), Error);
  at::Tensor nan = x.clone();
  nan[1][7] = std::nanf("");
  EXPECT_THROW(softmax_top_k(nan, 3), Error);
  at::Tensor nan_wide = torch::randn({2, 1000});
  nan_wide[0][700] = std::nanf("");  // inside a vectorised block, not in the top-k
  try {
    softmax_top_k(nan_wide, 3);
    ADD_FAILURE() << "NaN not detected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 0"), std::string::npos) << e.what();
  }
  at::Tensor inf = x.clone();
  inf[0][2] = INFINITY;
  EXPECT_THROW(softmax_top_k(inf, 3), Error);
}

TEST(LmheadDecodeVectors, MatchesSoftmaxOfProductAndIsChunkInvariant) {
  torch::manual_seed(3);
  const at::Tensor W_U = torch::randn({517, 24});
  const at::Tensor vectors = torch::randn({70, 24});
  const at::Tensor logits = at::mm(vectors.to(torch::kDouble), W_U.to(torch::kDouble).t());
  const Reference want = reference(logits, 6);
  const auto whole = decode_vectors(W_U, vectors, 6, 1000);
  expect_matches(whole, want, 1e-5);
  for (int64_t chunk : {1, 7, 64, 69, 70}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    int64_t calls = 0, last = 0;
    const auto got = decode_vectors(W_U, vectors, 6, chunk, {}, [&](int64_t done, int64_t total) {
      ++calls;
      EXPECT_GT(done, last);
      EXPECT_EQ(total, 70);
      last = done;
    });
    EXPECT_EQ(calls, (70 + chunk - 1) / chunk);
    EXPECT_EQ(last, 70);
    // The ids agree exactly; the values to float32 rounding (BLAS may block a product of another
    // height differently).
    EXPECT_TRUE(torch::equal(got.ids, whole.ids));
    EXPECT_TRUE(torch::allclose(got.probs, whole.probs, 1e-5, 0))
        << (got.probs / whole.probs - 1).abs().max().item<float>();
    EXPECT_TRUE(torch::allclose(got.logits, whole.logits, 1e-5, 1e-5));
  }
  // No vectors: empty results.
  const auto none = decode_vectors(W_U, torch::empty({0, 24}), 6, 8);
  EXPECT_EQ(none.ids.sizes().vec(), (std::vector<int64_t>{0, 6}));
  // A transposed (non-contiguous) view of the vectors gives the same answer.
  const at::Tensor stored = vectors.t().contiguous();  // [24, 70], as a down-projection is stored
  EXPECT_TRUE(torch::equal(decode_vectors(W_U, stored.t(), 6, 16).ids, whole.ids));
}

TEST(LmheadDecodeVectors, GainScalesTheVectorsFirst) {
  torch::manual_seed(4);
  const at::Tensor W_U = torch::randn({300, 16});
  const at::Tensor vectors = torch::randn({9, 16});
  const at::Tensor gain = torch::rand({16}) * 3;
  const auto with = decode_vectors(W_U, vectors, 5, 4, gain);
  const auto scaled = decode_vectors(W_U, vectors * gain, 5, 4);
  EXPECT_TRUE(torch::equal(with.ids, scaled.ids));
  EXPECT_TRUE(torch::allclose(with.probs, scaled.probs, 1e-6, 0));
  expect_matches(with, reference(at::mm((vectors * gain).to(torch::kDouble), W_U.to(torch::kDouble).t()), 5), 1e-5);
  EXPECT_FALSE(torch::equal(with.ids, decode_vectors(W_U, vectors, 5, 4).ids));
}

TEST(LmheadDecodeVectors, BadInput) {
  const at::Tensor W_U = torch::randn({30, 8});
  const at::Tensor v = torch::randn({4, 8});
  EXPECT_THROW(decode_vectors(W_U, torch::randn({4, 7}), 3, 2), Error);  // d mismatch
  EXPECT_THROW(decode_vectors(W_U, v, 0, 2), Error);
  EXPECT_THROW(decode_vectors(W_U, v, 31, 2), Error);
  EXPECT_THROW(decode_vectors(W_U, v, 3, 0), Error);
  EXPECT_THROW(decode_vectors(torch::randn({30}), v, 3, 2), Error);
  EXPECT_THROW(decode_vectors(W_U, torch::ones({4, 8}, torch::kLong), 3, 2), Error);
  EXPECT_THROW(decode_vectors(W_U, v, 3, 2, torch::ones({7})), Error);
  at::Tensor bad = W_U.clone();
  bad[3][2] = std::nanf("");
  EXPECT_THROW(decode_vectors(bad, v, 3, 2), Error);
  at::Tensor big = v.clone();
  big[1][0] = 3e38f;  // finite weights whose logits overflow
  EXPECT_THROW(decode_vectors(W_U.abs() + 1, big.abs(), 3, 2), Error);
}

std::shared_ptr<models::Llama> tiny_llama(bool tied) {
  torch::manual_seed(5);
  auto model = std::make_shared<models::Llama>(models::LlamaOptions()
                                                   .vocab_size(300)
                                                   .d_model(16)
                                                   .n_layers(3)
                                                   .n_heads(4)
                                                   .n_kv_heads(2)
                                                   .d_mlp(40)
                                                   .n_ctx(32)
                                                   .tie_embeddings(tied));
  model->reset_parameters();
  torch::NoGradGuard no_grad;
  model->ln_final->w.copy_(torch::rand({16}) + 0.5);
  return model;
}

std::shared_ptr<models::Gpt2> tiny_gpt2() {
  torch::manual_seed(6);
  auto model = std::make_shared<models::Gpt2>(
      models::Gpt2Options().vocab_size(280).d_model(16).n_layers(2).n_heads(2).d_mlp(48).n_ctx(32).tie_embeddings(false));
  model->reset_parameters();
  torch::NoGradGuard no_grad;
  model->ln_final->w.copy_(torch::rand({16}) + 0.5);
  model->ln_final->b.copy_(torch::randn({16}));  // must be ignored
  return model;
}

TEST(LmheadDecodeModel, LlamaVectorsAreUpRowsAndDownColumns) {
  auto model = tiny_llama(true);
  const auto& mlp = *model->block(1).mlp;
  EXPECT_TRUE(torch::equal(neuron_vectors(*model, 1, "input"), mlp.W_gate_up.narrow(0, 40, 40)));
  EXPECT_TRUE(torch::equal(neuron_vectors(*model, 1, "output"), mlp.W_down.t()));
  EXPECT_TRUE(torch::equal(unembedding(*model), model->W_E));
  EXPECT_TRUE(torch::equal(final_norm_gain(*model), model->ln_final->w));
  auto untied = tiny_llama(false);
  EXPECT_TRUE(torch::equal(unembedding(*untied), untied->W_U));
  EXPECT_THROW(neuron_vectors(*model, 3, "input"), Error);
  EXPECT_THROW(neuron_vectors(*model, 0, "both"), Error);
}

TEST(LmheadDecodeModel, Gpt2VectorsAreFcRowsAndProjColumns) {
  auto model = tiny_gpt2();
  const auto& mlp = *model->block(0).mlp;
  EXPECT_TRUE(torch::equal(neuron_vectors(*model, 0, "input"), mlp.W_in));
  EXPECT_TRUE(torch::equal(neuron_vectors(*model, 0, "output"), mlp.W_out.t()));
  EXPECT_TRUE(torch::equal(unembedding(*model), model->W_U));
}

TEST(LmheadDecodeModel, DecodesEveryLayerOnBothSides) {
  auto model = tiny_llama(false);
  for (const std::string side : {"input", "output"}) {
    for (bool norm : {false, true}) {
      SCOPED_TRACE(side + (norm ? " with final norm" : ""));
      const auto result =
          decode_neurons(*model, LmheadDecodeOptions().side(side).apply_final_norm(norm).top_k(4).chunk_size(16));
      ASSERT_EQ(result.rows(), 3 * 40);
      ASSERT_EQ(result.decoded.ids.sizes().vec(), (std::vector<int64_t>{120, 4}));
      EXPECT_EQ(result.layers, (std::vector<int64_t>{0, 1, 2}));
      for (int64_t l = 0; l < 3; ++l) {
        at::Tensor v = neuron_vectors(*model, l, side);
        if (norm) v = v * model->ln_final->w;
        const at::Tensor logits = at::mm(v.to(torch::kDouble), model->W_U.to(torch::kDouble).t());
        TopKSoftmax part{result.decoded.ids.narrow(0, l * 40, 40), result.decoded.probs.narrow(0, l * 40, 40),
                         result.decoded.logits.narrow(0, l * 40, 40), result.decoded.log_normaliser.narrow(0, l * 40, 40)};
        expect_matches(part, reference(logits, 4), 1e-5);
      }
      EXPECT_GT(result.gflop, 0);
    }
  }
  // The two sides and the norm give different answers.
  const auto in = decode_neurons(*model, LmheadDecodeOptions().side("input"));
  const auto out = decode_neurons(*model, LmheadDecodeOptions().side("output"));
  const auto normed = decode_neurons(*model, LmheadDecodeOptions().apply_final_norm(true));
  EXPECT_FALSE(torch::equal(in.decoded.ids, out.decoded.ids));
  EXPECT_FALSE(torch::equal(in.decoded.ids, normed.decoded.ids));
}

TEST(LmheadDecodeModel, Gpt2FinalNormUsesGainOnly) {
  auto model = tiny_gpt2();
  const auto result = decode_neurons(*model, LmheadDecodeOptions().apply_final_norm(true).layers({1}).top_k(3));
  const at::Tensor v = model->block(1).mlp->W_in * model->ln_final->w;  // no bias, no centering
  expect_matches(result.decoded, reference(at::mm(v.to(torch::kDouble), model->W_U.to(torch::kDouble).t()), 3), 1e-5);
  EXPECT_EQ(result.ref(5), "blocks.1.mlp.hook_post:5");
  EXPECT_EQ(result.vector_name(5), "transformer.h.1.mlp.c_fc.weight[:,5]");
}

TEST(LmheadDecodeModel, LayersRefsAndJson) {
  auto model = tiny_llama(true);
  const auto result = decode_neurons(*model, LmheadDecodeOptions().layers({2, 0}).top_k(2).side("output"));
  ASSERT_EQ(result.rows(), 80);
  EXPECT_EQ(result.ref(0), "blocks.2.mlp.hook_post:0");
  EXPECT_EQ(result.ref(41), "blocks.0.mlp.hook_post:1");
  EXPECT_EQ(result.vector_name(41), "model.layers.0.mlp.down_proj.weight[:,1]");
  EXPECT_THROW(result.ref(80), Error);
  const Json j = result.to_json([](int64_t id) { return "t" + std::to_string(id); });
  EXPECT_EQ(j["method"], "lmhead-decode");
  EXPECT_EQ(j["side"], "output");
  ASSERT_EQ(j["neurons"].size(), 80u);
  const auto& n41 = j["neurons"][41];
  EXPECT_EQ(n41["ref"], "blocks.0.mlp.hook_post:1");
  EXPECT_EQ(n41["layer"], 0);
  EXPECT_EQ(n41["neuron"], 1);
  EXPECT_EQ(n41["token_ids"][0].get<int64_t>(), result.decoded.ids[41][0].item<int64_t>());
  EXPECT_EQ(n41["tokens"][1], "t" + std::to_string(result.decoded.ids[41][1].item<int64_t>()));
  EXPECT_FLOAT_EQ(n41["probs"][0].get<float>(), result.decoded.probs[41][0].item<float>());
  EXPECT_FALSE(result.to_json({}, false).contains("neurons"));
  EXPECT_FALSE(result.to_json()["neurons"][0].contains("tokens"));
}

TEST(LmheadDecodeModel, BadOptions) {
  auto model = tiny_llama(true);
  EXPECT_THROW(decode_neurons(*model, LmheadDecodeOptions().side("both")), Error);
  EXPECT_THROW(decode_neurons(*model, LmheadDecodeOptions().top_k(0)), Error);
  EXPECT_THROW(decode_neurons(*model, LmheadDecodeOptions().top_k(301)), Error);
  EXPECT_THROW(decode_neurons(*model, LmheadDecodeOptions().chunk_size(0)), Error);
  EXPECT_THROW(decode_neurons(*model, LmheadDecodeOptions().layers({3})), Error);
  EXPECT_THROW(decode_neurons(*model, LmheadDecodeOptions().layers({1, 1})), Error);
  LmheadDecodeOptions options;
  EXPECT_THROW(LmheadDecodeOptions::schema().set_from_string(options, "side", "middle"), Error);
  EXPECT_THROW(LmheadDecodeOptions::schema().set_from_string(options, "top_k", "-2"), Error);
  EXPECT_THROW(LmheadDecodeOptions::schema().apply(options, Json{{"topk", 3}}), Error);
  LmheadDecodeOptions::schema().apply(options, Json{{"top_k", 3}, {"side", "output"}, {"layers", {0, 2}}});
  EXPECT_EQ(options.top_k(), 3);
  EXPECT_EQ(options.side(), "output");
  EXPECT_EQ(options.layers(), (std::vector<int64_t>{0, 2}));
}

TEST(LmheadDecodeText, TokenDisplayEscapesInvalidUtf8) {
  EXPECT_EQ(token_display("abc"), "abc");
  EXPECT_EQ(token_display("\xc3\xa9"), "\xc3\xa9");      // é
  EXPECT_EQ(token_display("\xc3"), "<0xC3>");            // a lone lead byte
  EXPECT_EQ(token_display("a\xff" "b"), "a<0xFF>b");
  EXPECT_EQ(token_display("\xc0\xaf"), "<0xC0><0xAF>");  // overlong '/'
  EXPECT_EQ(token_display("\xed\xa0\x80"), "<0xED><0xA0><0x80>");  // a surrogate
  EXPECT_EQ(token_display("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(token_display(""), "");
}

}  // namespace
}  // namespace golgi::methods
