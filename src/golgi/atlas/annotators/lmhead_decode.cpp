// lmhead-decode: the vocabulary tokens each MLP neuron reads and writes, through the unembedding.
//
// Geva, Caciularu, Wang & Goldberg 2022, "Transformer Feed-Forward Layers Build Predictions by
// Promoting Concepts in the Vocabulary Space" (EMNLP): a neuron's output (value) vector, projected
// by the unembedding, lists the tokens it promotes; the input side (the row it reads with) is the
// same view of what it detects (methods/lmhead_decode). One `decoded_tokens` annotation per neuron
// and side, labelled with the top token so the viewer's search finds "neurons that say ' der'".
#include <torch/torch.h>

#include "golgi/atlas/annotator.h"
#include "golgi/methods/lmhead_decode/lmhead_decode.h"
#include "golgi/models/transformer.h"
#include "golgi/tokenize/tokenizer.h"

namespace golgi::atlas {

namespace {

constexpr int64_t kTopTokens = 10;

std::string mlp_hook(int64_t layer) { return "blocks." + std::to_string(layer) + ".mlp.hook_post"; }

class LmheadDecodeAnnotator : public Annotator {
 public:
  bool applies(const AtlasContext& context) const override {
    if (!context.language_model || !context.tokenizer || !dynamic_cast<models::TransformerLM*>(context.model)) return false;
    for (const auto& hook : context.hooks)
      if (hook.name == mlp_hook(hook.layer)) return true;
    return false;
  }

  Json annotate(const AtlasContext& context, AtlasWriter& writer) override {
    auto* lm = dynamic_cast<models::TransformerLM*>(context.model);
    std::vector<int64_t> layers;
    for (const auto& hook : context.hooks)
      if (hook.name == mlp_hook(hook.layer)) layers.push_back(hook.layer);
    Json summary = Json::object();
    for (const std::string side : {"output", "input"}) {
      auto decoded = methods::decode_neurons(
          *lm, methods::LmheadDecodeOptions().top_k(kTopTokens).side(side).layers(layers).apply_final_norm(true));
      at::Tensor ids = decoded.decoded.ids.contiguous();
      at::Tensor probs = decoded.decoded.probs.contiguous();
      auto id_a = ids.accessor<int64_t, 2>();
      auto prob_a = probs.accessor<float, 2>();
      for (int64_t row = 0; row < decoded.rows(); ++row) {
        const int64_t layer = decoded.layers[static_cast<size_t>(row / decoded.d_mlp)];
        const int64_t neuron = row % decoded.d_mlp;
        const AtlasHook* hook = context.find_hook(mlp_hook(layer));
        Json tokens = Json::array();
        std::string top;
        for (int64_t t = 0; t < ids.size(1); ++t) {
          std::string text = methods::token_display(context.tokenizer->decode({id_a[row][t]}));
          if (t == 0) top = text;
          tokens.push_back(Json{{"token", text}, {"id", id_a[row][t]}, {"prob", prob_a[row][t]}});
        }
        writer.annotate(context.neuron_id(*hook, neuron), "decoded_tokens", top, prob_a[row][0],
                        Json{{"side", side}, {"final_norm", true}, {"tokens", tokens}});
      }
      summary[side] = Json{{"neurons", decoded.rows()}, {"seconds", decoded.seconds}};
    }
    summary["top_k"] = kTopTokens;
    return summary;
  }
};

}  // namespace

std::unique_ptr<Annotator> make_lmhead_decode_annotator() { return std::make_unique<LmheadDecodeAnnotator>(); }

}  // namespace golgi::atlas
