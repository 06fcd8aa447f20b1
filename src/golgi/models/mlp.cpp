#include "golgi/models/mlp.h"

#include <torch/torch.h>

namespace golgi::models {

const OptionSchema<MlpOptions>& MlpOptions::schema() {
  static const auto schema = OptionSchema<MlpOptions>("mlp")
      .add("input_shape", &MlpOptions::input_shape_, "per-sample input shape (flattened)", at_least<int64_t>(1))
      .add("hidden", &MlpOptions::hidden_, "widths of the hidden layers", at_least<int64_t>(1))
      .add("classes", &MlpOptions::classes_, "output classes", at_least<int64_t>(1))
      .add("activation", &MlpOptions::activation_, "hidden activation", {"relu", "gelu", "tanh", "sigmoid"});
  return schema;
}

Mlp::Mlp(const MlpOptions& options) : Model("mlp", MlpOptions::schema().to_json(options)), options_(options) {
  MlpOptions::schema().validate(options_);
  GOLGI_CHECK(!options_.input_shape().empty(), "mlp.input_shape must not be empty");
  int64_t width = 1;
  for (int64_t d : options_.input_shape()) width *= d;
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int64_t h : options_.hidden()) {
    layers_->push_back(DenseLayer(width, h, options_.activation()));
    width = h;
  }
  head_ = register_module("head", DenseLayer(width, options_.classes(), "none"));
  setup_hooks();
}

at::Tensor Mlp::forward(const at::Tensor& input) {
  check_input(input);
  at::Tensor x = input.flatten(1);
  for (auto& layer : *layers_) x = layer->as<DenseLayerImpl>()->forward(x);
  return head_(x);
}

}  // namespace golgi::models
