#include "golgi/models/cnn.h"

#include <torch/torch.h>

namespace golgi::models {

const OptionSchema<CnnOptions>& CnnOptions::schema() {
  static const auto schema = OptionSchema<CnnOptions>("cnn")
      .add("in_channels", &CnnOptions::in_channels_, "input image channels", at_least<int64_t>(1))
      .add("image_size", &CnnOptions::image_size_, "input height and width in pixels", at_least<int64_t>(2))
      .add("channels", &CnnOptions::channels_, "output channels of each conv layer", at_least<int64_t>(1))
      .add("kernel_size", &CnnOptions::kernel_size_, "conv kernel size (odd)", between<int64_t>(1, 15))
      .add("hidden", &CnnOptions::hidden_, "widths of the dense layers after the convs", at_least<int64_t>(1))
      .add("classes", &CnnOptions::classes_, "output classes", at_least<int64_t>(1))
      .add("batch_norm", &CnnOptions::batch_norm_, "BatchNorm after each conv");
  return schema;
}

Cnn::Cnn(const CnnOptions& options) : Model("cnn", CnnOptions::schema().to_json(options)), options_(options) {
  CnnOptions::schema().validate(options_);
  int64_t channels = options_.in_channels(), size = options_.image_size();
  for (size_t i = 0; i < options_.channels().size(); ++i) {
    GOLGI_CHECK(size >= 2, "cnn: image_size ", options_.image_size(), " is too small for ", options_.channels().size(),
                " pooled conv layers");
    int64_t out = options_.channels()[i];
    convs_.push_back(register_module("conv" + std::to_string(i + 1),
                                     ConvLayer(channels, out, options_.kernel_size(), "relu", options_.batch_norm(), true)));
    channels = out;
    size /= 2;
  }
  int64_t width = channels * size * size;
  for (size_t j = 0; j < options_.hidden().size(); ++j) {
    fcs_.push_back(register_module("fc" + std::to_string(j + 1), DenseLayer(width, options_.hidden()[j], "relu")));
    width = options_.hidden()[j];
  }
  head_ = register_module("head", DenseLayer(width, options_.classes(), "none"));
  setup_hooks();
}

at::Tensor Cnn::forward(const at::Tensor& input) {
  check_input(input);
  at::Tensor x = input;
  for (auto& conv : convs_) x = conv(x);
  x = x.flatten(1);
  for (auto& fc : fcs_) x = fc(x);
  return head_(x);
}

}  // namespace golgi::models
