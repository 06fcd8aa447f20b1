// golgi's arm of the lmhead-decode benchmark (paper id lmhead-decode); the peer is
// bench/peers/lmhead_decode.py (python3-torch, the naive softmax(W_U @ W_in) in chunks + topk).
// Both build the same random float32 weights shape (default GPT-2 small: 36,864 neurons = 12 layers
// x 3072, vocabulary 50,257, d_model 768), run at the same thread count and print one JSON object.
//
// Measured, in this process (best of --repetitions unless noted):
//   sgemm_gflops     the peak: at::mm_out of the decode's own product, [chunk, d] x [d, vocab]
//                    (W_U [vocab, d] transposed, as the decode calls it), 2 chunk vocab d / seconds;
//   decode           decode_vectors over all neurons (top-k 10): seconds, GFLOP/s = 2 N vocab d / s,
//                    fraction_of_peak = GFLOP/s / sgemm_gflops (target >= 0.7);
//   row_pass         one [chunk, vocab] logits block through golgi's fused softmax_top_k against
//                    at::softmax + at::topk (ATen's vectorised kernels) on the same block: seconds
//                    each and as a share of one block's sgemm;
//   paired           the load-robust figure: for --paired chunks spread over the neurons, the sgemm
//                    of the chunk alone and decode_vectors on the same chunk (sgemm + row pass +
//                    allocation), back to back, alternating which goes first; fraction =
//                    Σ sgemm seconds / Σ decode seconds. On a shared machine the end-to-end pass
//                    (minutes) and the peak (best of a few seconds) see different loads, the pairs do not;
//   chunk_sweep      (--sweep) decode GFLOP/s at chunk sizes 64, 128, 256, 512 on the first 2048 neurons.
// With --peer SCRIPT the peer runs after golgi's arm (same shape, threads, chunk, top-k, interpreter
// /usr/bin/python3) and its JSON is embedded with ratio_python_over_golgi (time; > 1: golgi faster).
//
//   golgi_bench_lmhead_decode [--threads T] [--repetitions N] [--neurons N] [--vocab V] [--d-model D]
//                             [--chunk C] [--top-k K] [--paired P] [--sweep] [--peer bench/peers/lmhead_decode.py]
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "golgi/core/json.h"
#include "golgi/core/version.h"
#include "golgi/methods/lmhead_decode/lmhead_decode.h"

namespace {

using Clock = std::chrono::steady_clock;
using golgi::Json;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Debian's OpenBLAS keeps its own pthread pool, sized from OPENBLAS_NUM_THREADS when it loads;
// at::set_num_threads does not touch it. Size it directly when the symbol is there.
bool set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  auto* fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (fn) fn(threads);
  return fn != nullptr;
}

template <typename F>
double best_of(int reps, F&& f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

std::string load_average() {
  FILE* f = std::fopen("/proc/loadavg", "r");
  if (!f) return "";
  char buf[128] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  std::string s(buf, n);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, reps = 1, paired = 16;
  int64_t neurons = 36864, vocab = 50257, d = 768, chunk = 256, k = 10;
  bool sweep = false;
  std::string peer;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--threads") threads = std::stoi(value());
    else if (arg == "--repetitions") reps = std::stoi(value());
    else if (arg == "--neurons") neurons = std::stoll(value());
    else if (arg == "--vocab") vocab = std::stoll(value());
    else if (arg == "--d-model") d = std::stoll(value());
    else if (arg == "--chunk") chunk = std::stoll(value());
    else if (arg == "--top-k") k = std::stoll(value());
    else if (arg == "--paired") paired = std::stoi(value());
    else if (arg == "--sweep") sweep = true;
    else if (arg == "--peer") peer = value();
    else {
      std::fprintf(stderr,
                   "usage: golgi_bench_lmhead_decode [--threads T] [--repetitions N] [--neurons N] [--vocab V] "
                   "[--d-model D] [--chunk C] [--top-k K] [--paired P] [--sweep] [--peer SCRIPT]\n");
      return 2;
    }
  }
  if (threads < 1 || reps < 1 || paired < 1 || neurons < 1 || vocab < k || d < 1 || chunk < 1 || k < 1) {
    std::fprintf(stderr, "lmhead_decode_bench: every size must be positive and top-k <= vocab\n");
    return 2;
  }
  at::set_num_threads(threads);
  const bool blas_sized = set_blas_threads(threads);
  c10::InferenceMode inference;
  const std::string load_before = load_average();

  torch::manual_seed(0);
  const at::Tensor W_U = torch::randn({vocab, d}) * 0.05;  // the unembedding [vocab, d]
  const at::Tensor vectors = torch::randn({neurons, d}) * 0.05;  // one row per neuron [N, d]
  const at::Tensor W_U_t = W_U.t();
  const int64_t rows = std::min(chunk, neurons);
  at::Tensor block = torch::empty({rows, vocab});
  const at::Tensor a = vectors.narrow(0, 0, rows);

  // Peak: the decode's own product shape and layout.
  at::mm_out(block, a, W_U_t);
  const double gemm_s = best_of(std::max(reps, 3), [&] { at::mm_out(block, a, W_U_t); });
  const double block_flop = 2.0 * static_cast<double>(rows * vocab * d);
  const double peak = block_flop / gemm_s / 1e9;

  // The row pass alone, golgi's fused one against ATen's softmax + topk.
  golgi::methods::softmax_top_k(block, k);
  const double fused_s = best_of(std::max(reps, 3), [&] { golgi::methods::softmax_top_k(block, k); });
  const double aten_s = best_of(std::max(reps, 3), [&] {
    const at::Tensor p = at::softmax(block, 1);
    const auto top = at::topk(p, k, 1);
    (void)top;
  });

  // The whole decode.
  const double total_flop = 2.0 * static_cast<double>(neurons) * static_cast<double>(vocab) * static_cast<double>(d);
  std::vector<double> decode_s;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    const auto out = golgi::methods::decode_vectors(W_U, vectors, k, chunk);
    decode_s.push_back(seconds_since(t0));
    if (out.ids.size(0) != neurons) {
      std::fprintf(stderr, "lmhead_decode_bench: unexpected result shape\n");
      return 1;
    }
  }
  const double best_decode = *std::min_element(decode_s.begin(), decode_s.end());
  const double gflops = total_flop / best_decode / 1e9;

  // Paired chunks: sgemm alone and the decode of the same chunk, back to back.
  const int64_t n_chunks = (neurons + chunk - 1) / chunk;
  double paired_gemm = 0, paired_decode = 0;
  std::vector<double> pair_fractions;
  for (int i = 0; i < paired; ++i) {
    const int64_t c = std::min<int64_t>(n_chunks - 1, static_cast<int64_t>(i) * n_chunks / paired);
    const int64_t start = c * chunk, len = std::min(chunk, neurons - start);
    const at::Tensor part = vectors.narrow(0, start, len);
    at::Tensor out = block.narrow(0, 0, len);
    double g = 0, t = 0;
    auto run_gemm = [&] { g = best_of(1, [&] { at::mm_out(out, part, W_U_t); }); };
    auto run_decode = [&] { t = best_of(1, [&] { golgi::methods::decode_vectors(W_U, part, k, chunk); }); };
    if (i % 2) {
      run_decode();
      run_gemm();
    } else {
      run_gemm();
      run_decode();
    }
    paired_gemm += g;
    paired_decode += t;
    pair_fractions.push_back(g / t);
  }
  std::vector<double> sorted_fractions = pair_fractions;
  std::sort(sorted_fractions.begin(), sorted_fractions.end());
  const double paired_fraction = paired_gemm / paired_decode;

  Json sweep_json = Json::object();
  if (sweep) {
    const int64_t n = std::min<int64_t>(neurons, 2048);
    const at::Tensor part = vectors.narrow(0, 0, n);
    for (int64_t c : {64, 128, 256, 512}) {
      golgi::methods::decode_vectors(W_U, part.narrow(0, 0, std::min<int64_t>(n, c)), k, c);
      const double s = best_of(reps, [&] { golgi::methods::decode_vectors(W_U, part, k, c); });
      sweep_json[std::to_string(c)] = 2.0 * static_cast<double>(n * vocab * d) / s / 1e9;
    }
  }

  Json result = {
      {"arm", "golgi"},
      {"golgi_version", golgi::kVersion},
      {"threads", threads},
      {"openblas_threads_set", blas_sized},
      {"shape", {{"neurons", neurons}, {"vocab", vocab}, {"d_model", d}, {"chunk", chunk}, {"top_k", k}}},
      {"sgemm_gflops", peak},
      {"sgemm_what", "best at::mm_out [chunk, d] x [d, vocab] (W_U transposed), as the decode runs it"},
      {"decode",
       {{"seconds", decode_s},
        {"best_seconds", best_decode},
        {"gflop", total_flop / 1e9},
        {"gflops", gflops},
        {"fraction_of_peak", gflops / peak},
        {"target_fraction", 0.7},
        {"meets_target", gflops / peak >= 0.7}}},
      {"paired",
       {{"chunks", paired},
        {"sgemm_seconds", paired_gemm},
        {"decode_seconds", paired_decode},
        {"fraction_of_peak", paired_fraction},
        {"median_pair_fraction", sorted_fractions[sorted_fractions.size() / 2]},
        {"pair_fractions", pair_fractions},
        {"meets_target", paired_fraction >= 0.7}}},
      {"row_pass",
       {{"block", {rows, vocab}},
        {"gemm_seconds", gemm_s},
        {"fused_seconds", fused_s},
        {"aten_softmax_topk_seconds", aten_s},
        {"fused_share_of_gemm", fused_s / gemm_s},
        {"aten_share_of_gemm", aten_s / gemm_s},
        {"aten_over_fused", aten_s / fused_s}}},
      {"load_average_before", load_before}};
  if (sweep) result["chunk_sweep_gflops"] = sweep_json;

  if (!peer.empty()) {
    const std::string cmd = "/usr/bin/python3 '" + peer + "' --threads " + std::to_string(threads) + " --repetitions " +
                            std::to_string(reps) + " --neurons " + std::to_string(neurons) + " --vocab " +
                            std::to_string(vocab) + " --d-model " + std::to_string(d) + " --chunk " +
                            std::to_string(chunk) + " --top-k " + std::to_string(k) +
                            " --paired " + std::to_string(paired);
    FILE* pipe = popen(cmd.c_str(), "r");
    std::string text;
    if (pipe) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) text.append(buf, n);
      const int rc = pclose(pipe);
      if (rc != 0) std::fprintf(stderr, "lmhead_decode_bench: the peer exited with status %d\n", rc);
    }
    try {
      Json p = Json::parse(text);
      const double peer_s = p["decode"]["best_seconds"].get<double>();
      result["peer"] = p;
      result["ratio_python_over_golgi"] = peer_s / best_decode;
      result["peer_fraction_of_golgi_peak"] = total_flop / peer_s / 1e9 / peak;
      // Load-robust ratio: each arm's paired decode time per chunk, relative to its own paired sgemm,
      // scaled by the two sgemm rates (same libtorch; the peer's product is W_U @ W_in[:, chunk]).
      const double peer_paired = p["paired"]["fraction_of_peak"].get<double>();
      result["ratio_paired_python_over_golgi"] = paired_fraction / peer_paired;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lmhead_decode_bench: could not read the peer's output (%s)\n", e.what());
      result["peer"] = nullptr;
    }
  }
  result["load_average_after"] = load_average();
  std::printf("%s\n", result.dump(2).c_str());
  std::fprintf(stderr,
               "lmhead decode %lld x %lld x %lld, %d thread(s): %.2f s, %.1f GFLOP/s = %.2f of the %.1f GFLOP/s sgemm "
               "peak; row pass %.1f%% of a block's sgemm (ATen softmax+topk %.1f%%)\n",
               static_cast<long long>(neurons), static_cast<long long>(vocab), static_cast<long long>(d), threads,
               best_decode, gflops, gflops / peak, peak, 100 * fused_s / gemm_s, 100 * aten_s / gemm_s);
  if (result.contains("ratio_python_over_golgi"))
    std::fprintf(stderr, "python3-torch naive chunks: %.2f s, ratio python/golgi %.2f end to end, %.3f paired "
                 "(python paired fraction of its sgemm %.3f)\n",
                 result["peer"]["decode"]["best_seconds"].get<double>(), result["ratio_python_over_golgi"].get<double>(),
                 result["ratio_paired_python_over_golgi"].get<double>(),
                 result["peer"]["paired"]["fraction_of_peak"].get<double>());
  return 0;
}
