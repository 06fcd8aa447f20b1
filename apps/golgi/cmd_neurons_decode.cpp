// golgi neurons decode: the tokens each MLP neuron's weight vector points at through the unembedding
// (paper id lmhead-decode, src/golgi/methods/lmhead_decode).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>

#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/lmhead_decode/lmhead_decode.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "golgi/tokenize/tokenizer.h"

namespace golgi::cli {

namespace {

struct DecodeArgs {
  std::string model, out, tokenizer;
  bool final_norm = false, export_weights = false, no_tokens = false;
};

// A token's text for tables: valid UTF-8 (invalid bytes as <0xHH>), with newline, tab and the
// other control characters made visible, so that every CSV row is one line.
std::string visible(const std::string& text) {
  std::string out;
  for (const char ch : methods::token_display(text)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      static const char* kHex = "0123456789ABCDEF";
      out += "<0x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      out += '>';
    } else {
      out += ch;
    }
  }
  return out;
}

std::string csv_field(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string format_float(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

Command add_neurons_decode(CLI::App& group) {
  auto args = std::make_shared<DecodeArgs>();
  auto options = std::make_shared<methods::LmheadDecodeOptions>();
  auto* sub = group.add_subcommand(
      "decode",
      "Decode every MLP neuron of a language model through its unembedding (paper id lmhead-decode, Davies 2025,\n"
      "docs/methods/lmhead-decode.md): p = softmax(W_U w) for each neuron's weight vector w, keeping the top-k tokens.\n"
      "--side input (default, as the paper): w is the neuron's up-projection row (llama up_proj.weight[j,:], gpt2\n"
      "c_fc.weight[:,j]). --side output: w is the neuron's write direction into the residual stream (llama\n"
      "down_proj.weight[:,j], gpt2 c_proj.weight[j,:]): the neuron's logit lens. --final-norm multiplies w by the\n"
      "final norm's gain first (gain only: no centering, no bias). One chunked pass: memory is chunk_size x vocab\n"
      "floats, never neurons x vocab.\n"
      "Writes to OUT: token_ids.npy (int64 [neurons, k]), probs.npy and logits.npy (float32 [neurons, k]),\n"
      "log_normaliser.npy (float32 [neurons]), neurons.csv (one row per neuron and rank: ref, layer, neuron,\n"
      "side, rank, token_id, token, prob, logit), neurons.json (per neuron: ref blocks.L.mlp.hook_post:J, the\n"
      "decoded vector's Hugging Face name, ids, tokens, probs) and summary.json. Row r is neuron r % d_mlp of the\n"
      "r / d_mlp-th decoded layer. --export-weights also writes W_U.npy [vocab, d_model], vectors.npy [neurons,\n"
      "d_model] (before any gain) and final_norm_gain.npy [d_model], for independent checks.\n"
      "Example: golgi neurons decode --model assets/models/tiny-multilingual --top-k 5 --out runs/decode");
  sub->add_option("--model", args->model, "model folder (gpt2 or llama; golgi or Hugging Face layout)")->required();
  sub->add_option("--out", args->out, "output folder (created)")->required();
  sub->add_option("--tokenizer", args->tokenizer,
                  "tokenizer folder for the token strings (default: the model folder; without one, ids only)");
  sub->add_flag("--no-tokens", args->no_tokens, "do not load a tokenizer; write ids only");
  sub->add_flag("--final-norm", args->final_norm,
                "multiply each vector by the final norm's gain (ln_final weight) before the unembedding");
  sub->add_flag("--export-weights", args->export_weights,
                "also write W_U.npy, vectors.npy and final_norm_gain.npy (float32) for cross-checks");
  auto flags = std::make_shared<SchemaFlags<methods::LmheadDecodeOptions>>(
      sub, methods::LmheadDecodeOptions::schema(), *options, std::vector<std::string>{"apply_final_norm"});
  return {sub, [args, options, flags] {
            flags->apply(*options);
            options->apply_final_norm(args->final_norm);
            auto loaded = models::load_model(args->model);
            auto* lm = dynamic_cast<models::TransformerLM*>(loaded.model.get());
            GOLGI_CHECK(lm, "'", args->model, "' is a ", loaded.model->architecture(),
                        " model; neurons decode needs a language model (gpt2 or llama)");
            std::unique_ptr<tokenize::Tokenizer> tokenizer;
            if (!args->no_tokens) {
              const std::string dir = args->tokenizer.empty() ? models::model_folder(args->model) : args->tokenizer;
              try {
                tokenizer = tokenize::load_tokenizer(dir);
              } catch (const Error& e) {
                GOLGI_CHECK(args->tokenizer.empty(), "--tokenizer: ", e.what());
                std::fprintf(stderr, "note: no tokenizer in %s (%s); writing token ids only\n", dir.c_str(), e.what());
              }
              if (tokenizer)
                GOLGI_CHECK(tokenizer->vocab_size() <= lm->config().vocab_size, "the tokenizer in ", dir, " has ",
                            tokenizer->vocab_size(), " tokens but the model's vocabulary has ",
                            lm->config().vocab_size);
            }
            const int64_t layers = options->layers().empty() ? lm->config().n_layers
                                                             : static_cast<int64_t>(options->layers().size());
            Progress progress("lmhead decode", layers * lm->config().d_mlp, "neuron");
            const auto result = methods::decode_neurons(
                *lm, *options, [&progress](int64_t done, int64_t) { progress.set(done); });
            progress.finish();
            // Created only now, so that bad options leave nothing behind.
            std::filesystem::create_directories(args->out);
            const std::string out = args->out;

            const auto& d = result.decoded;
            io::save_npy(out + "/token_ids.npy", d.ids);
            io::save_npy(out + "/probs.npy", d.probs);
            io::save_npy(out + "/logits.npy", d.logits);
            io::save_npy(out + "/log_normaliser.npy", d.log_normaliser);
            if (args->export_weights) {
              torch::NoGradGuard no_grad;
              io::save_npy(out + "/W_U.npy", methods::unembedding(*lm).contiguous());
              std::vector<at::Tensor> vectors;
              for (int64_t l : result.layers) vectors.push_back(methods::neuron_vectors(*lm, l, result.side));
              io::save_npy(out + "/vectors.npy", torch::cat(vectors).contiguous());
              io::save_npy(out + "/final_norm_gain.npy", methods::final_norm_gain(*lm).contiguous());
            }

            // Token texts, once per distinct id.
            std::vector<std::string> text;
            std::function<std::string(int64_t)> token_text;
            if (tokenizer) {
              text.resize(static_cast<size_t>(lm->config().vocab_size));
              for (int64_t id = 0; id < lm->config().vocab_size; ++id)
                text[static_cast<size_t>(id)] =
                    id < tokenizer->vocab_size() ? visible(tokenizer->decode({id})) : "<id " + std::to_string(id) + ">";
              token_text = [&text](int64_t id) { return text[static_cast<size_t>(id)]; };
            }
            io::write_json_file(out + "/neurons.json", result.to_json(token_text));

            const int64_t n = result.rows(), k = result.top_k;
            const int64_t* ids = d.ids.data_ptr<int64_t>();
            const float* probs = d.probs.data_ptr<float>();
            const float* logits = d.logits.data_ptr<float>();
            std::string csv = "ref,layer,neuron,side,rank,token_id,token,prob,logit\n";
            for (int64_t r = 0; r < n; ++r) {
              const std::string prefix = result.ref(r) + "," +
                                         std::to_string(result.layers[static_cast<size_t>(r / result.d_mlp)]) + "," +
                                         std::to_string(r % result.d_mlp) + "," + result.side + ",";
              for (int64_t j = 0; j < k; ++j) {
                const int64_t id = ids[r * k + j];
                csv += prefix + std::to_string(j) + "," + std::to_string(id) + "," +
                       (token_text ? csv_field(token_text(id)) : std::string()) + "," +
                       format_float(probs[r * k + j]) + "," + format_float(logits[r * k + j]) + "\n";
              }
            }
            io::write_file_atomic(out + "/neurons.csv", csv);

            Json summary = result.to_json({}, false);
            summary["model"] = args->model;
            summary["command"] = command_line();
            summary["options"] = methods::LmheadDecodeOptions::schema().to_json(*options);
            summary["neurons_decoded"] = n;
            summary["tokenizer"] = tokenizer ? tokenizer->kind() : "none";
            io::write_json_file(out + "/summary.json", summary);

            std::fprintf(stderr, "lmhead decode: %lld neurons (%zu layers x %lld, side %s%s) x %lld tokens in %.2f s, "
                         "%.1f GFLOP/s\n",
                         static_cast<long long>(n), result.layers.size(), static_cast<long long>(result.d_mlp),
                         result.side.c_str(), result.apply_final_norm ? ", final-norm gain" : "",
                         static_cast<long long>(result.vocab_size), result.seconds,
                         result.seconds > 0 ? result.gflop / result.seconds : 0.0);
            // The most specialised neurons: the largest top-1 probability.
            std::vector<int64_t> order(static_cast<size_t>(n));
            std::iota(order.begin(), order.end(), 0);
            const int64_t show = std::min<int64_t>(5, n);
            std::partial_sort(order.begin(), order.begin() + show, order.end(),
                              [&](int64_t a, int64_t b) { return probs[a * k] > probs[b * k]; });
            for (int64_t i = 0; i < show; ++i) {
              const int64_t r = order[static_cast<size_t>(i)];
              std::fprintf(stderr, "  %s: top-1 p %.3f, token %lld%s%s\n", result.ref(r).c_str(), probs[r * k],
                           static_cast<long long>(ids[r * k]), token_text ? " " : "",
                           token_text ? csv_field(token_text(ids[r * k])).c_str() : "");
            }
            std::fprintf(stderr, "wrote %s/{token_ids,probs,logits,log_normaliser}.npy, neurons.csv, neurons.json, "
                         "summary.json%s\n",
                         out.c_str(), args->export_weights ? ", W_U.npy, vectors.npy, final_norm_gain.npy" : "");
            return kExitOk;
          }};
}

}  // namespace golgi::cli
