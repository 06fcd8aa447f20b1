#include "golgi/models/resnet.h"

#include <torch/torch.h>

namespace golgi::models {

namespace nn = torch::nn;

namespace {
// The stem's modules are registered under a "stem" submodule so hook names read "stem.hook_post".
struct StemImpl : nn::Module {
  StemImpl(int64_t in, int64_t out) {
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
    bn = register_module("bn", nn::BatchNorm2d(out));
    hook_post = register_module("hook_post", hooks::HookPoint("[batch, channels, height, width]"));
  }
  at::Tensor forward(const at::Tensor& x) { return hook_post(torch::relu(bn(conv(x)))); }
  nn::Conv2d conv{nullptr};
  nn::BatchNorm2d bn{nullptr};
  hooks::HookPoint hook_post{nullptr};
};
TORCH_MODULE(Stem);

struct BasicBlockImpl : nn::Module {
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
    bn1 = register_module("bn1", nn::BatchNorm2d(out));
    hook_mid = register_module("hook_mid", hooks::HookPoint("[batch, channels, height, width]"));
    conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)));
    bn2 = register_module("bn2", nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      shortcut_conv = register_module("shortcut_conv", nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
      shortcut_bn = register_module("shortcut_bn", nn::BatchNorm2d(out));
    }
    hook_pre = register_module("hook_pre", hooks::HookPoint("[batch, channels, height, width]"));
    hook_post = register_module("hook_post", hooks::HookPoint("[batch, channels, height, width]"));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = hook_mid(torch::relu(bn1(conv1(x))));
    y = bn2(conv2(y));
    at::Tensor shortcut = shortcut_conv ? shortcut_bn(shortcut_conv(x)) : x;
    return hook_post(torch::relu(hook_pre(y + shortcut)));
  }
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, shortcut_conv{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, shortcut_bn{nullptr};
  hooks::HookPoint hook_mid{nullptr}, hook_pre{nullptr}, hook_post{nullptr};
};
TORCH_MODULE(BasicBlock);

struct PoolImpl : nn::Module {
  PoolImpl() { hook_out = register_module("hook_out", hooks::HookPoint("[batch, channels]")); }
  at::Tensor forward(const at::Tensor& x) { return hook_out(x.mean({2, 3})); }
  hooks::HookPoint hook_out{nullptr};
};
TORCH_MODULE(Pool);
}  // namespace

const OptionSchema<ResnetOptions>& ResnetOptions::schema() {
  static const auto schema = OptionSchema<ResnetOptions>("resnet")
      .add("in_channels", &ResnetOptions::in_channels_, "input image channels", at_least<int64_t>(1))
      .add("image_size", &ResnetOptions::image_size_, "input height and width in pixels", at_least<int64_t>(4))
      .add("stem_channels", &ResnetOptions::stem_channels_, "channels of the stem conv", at_least<int64_t>(1))
      .add("stages", &ResnetOptions::stages_, "channels of each stage", at_least<int64_t>(1))
      .add("blocks_per_stage", &ResnetOptions::blocks_per_stage_, "basic blocks per stage", between<int64_t>(1, 16))
      .add("classes", &ResnetOptions::classes_, "output classes", at_least<int64_t>(1));
  return schema;
}

Resnet::Resnet(const ResnetOptions& options) : Model("resnet", ResnetOptions::schema().to_json(options)), options_(options) {
  ResnetOptions::schema().validate(options_);
  GOLGI_CHECK(!options_.stages().empty(), "resnet.stages must list at least one stage");
  stem_ = register_module("stem", Stem(options_.in_channels(), options_.stem_channels()));
  stages_ = register_module("stages", nn::ModuleList());
  int64_t channels = options_.stem_channels();
  for (size_t s = 0; s < options_.stages().size(); ++s) {
    nn::ModuleList stage;
    for (int64_t b = 0; b < options_.blocks_per_stage(); ++b) {
      int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      BasicBlock block(channels, options_.stages()[s], stride);
      stage->push_back(block);
      blocks_.push_back(block.ptr());
      channels = options_.stages()[s];
    }
    stages_->push_back(stage);
  }
  pool_ = register_module("pool", Pool());
  head_ = register_module("head", DenseLayer(channels, options_.classes(), "none"));
  setup_hooks();
}

at::Tensor Resnet::forward(const at::Tensor& input) {
  check_input(input);
  at::Tensor x = static_cast<StemImpl&>(*stem_).forward(input);
  for (auto& block : blocks_) x = static_cast<BasicBlockImpl&>(*block).forward(x);
  x = static_cast<PoolImpl&>(*pool_).forward(x);
  return head_(x);
}

}  // namespace golgi::models
