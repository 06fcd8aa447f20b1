// Learned delays by dilated convolution with learnable spacings (paper id `dcls-delays`): see
// dcls_delays.h for the equations and the conventions.
#include "golgi/methods/dcls_delays/dcls_delays.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/core/stopwatch.h"
#include "golgi/data/dataset.h"
#include "golgi/spiking/lif.h"
#include "golgi/spiking/readout.h"
#include "golgi/train/optimizer.h"
#include "golgi/train/schedule.h"

namespace golgi::methods {

namespace {

constexpr double kSigmaFloor = 0.27;   // the paper's floor on the Gaussian's width
constexpr double kNormEps = 1e-7;      // keeps the normalisation finite

void check_float(const at::Tensor& t, const char* what) {
  GOLGI_CHECK(t.defined(), "dcls: ", what, " is undefined");
  GOLGI_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, "dcls: ", what,
              " must be float32 or float64, got ", t.scalar_type());
}

void check_synapses(const at::Tensor& weight, const at::Tensor& position, int64_t kernel_size) {
  GOLGI_CHECK(kernel_size >= 1, "dcls: kernel_size must be >= 1, got ", kernel_size);
  check_float(weight, "weight");
  check_float(position, "position");
  GOLGI_CHECK(weight.dim() == 2, "dcls: weight must be [out, in], got ", weight.sizes());
  GOLGI_CHECK(position.sizes() == weight.sizes(), "dcls: position ", position.sizes(), " must have the weight's shape ",
              weight.sizes());
  GOLGI_CHECK(position.scalar_type() == weight.scalar_type(), "dcls: position dtype ", position.scalar_type(),
              " differs from the weight's ", weight.scalar_type());
}

}  // namespace

double dcls_position_min(int64_t kernel_size) { return -static_cast<double>(kernel_size / 2); }
double dcls_position_max(int64_t kernel_size) { return static_cast<double>(kernel_size - 1 - kernel_size / 2); }

at::Tensor dcls_kernel(const at::Tensor& weight, const at::Tensor& position, const at::Tensor& sigma,
                       int64_t kernel_size) {
  check_synapses(weight, position, kernel_size);
  check_float(sigma, "sigma");
  GOLGI_CHECK(sigma.numel() == 1 || sigma.sizes() == position.sizes(), "dcls: sigma must be a single value or [out, in] ",
              position.sizes(), ", got ", sigma.sizes());
  const double centre = static_cast<double>(kernel_size / 2);
  at::Tensor delays = torch::arange(kernel_size, weight.options().requires_grad(false));  // [K]
  at::Tensor width = sigma.to(weight.scalar_type()).abs() + kSigmaFloor;
  width = sigma.numel() == 1 ? width.reshape({1, 1, 1}) : width.unsqueeze(-1);
  at::Tensor z = (delays - position.unsqueeze(-1) - centre) / width;  // [out, in, K]
  at::Tensor g = torch::exp(-0.5 * z * z);
  return weight.unsqueeze(-1) * g / (g.sum(-1, /*keepdim=*/true) + kNormEps);
}

at::Tensor dcls_integer_delays(const at::Tensor& position, int64_t kernel_size) {
  GOLGI_CHECK(kernel_size >= 1, "dcls: kernel_size must be >= 1, got ", kernel_size);
  check_float(position, "position");
  at::Tensor p = position.detach();
  const double lo = dcls_position_min(kernel_size), hi = dcls_position_max(kernel_size);
  GOLGI_CHECK(p.numel() == 0 || (p.min().item<double>() >= lo - 0.5 && p.max().item<double>() <= hi + 0.5),
              "dcls: positions must lie in [", lo, ", ", hi, "] for kernel_size ", kernel_size, ", got [",
              p.min().item<double>(), ", ", p.max().item<double>(), "]");
  // Round half to even, then clip: a position within half a step of a bound rounds onto it.
  return (torch::round(p) + static_cast<double>(kernel_size / 2)).clamp(0, kernel_size - 1).to(torch::kLong);
}

at::Tensor dcls_rounded_kernel(const at::Tensor& weight, const at::Tensor& position, int64_t kernel_size) {
  check_synapses(weight, position, kernel_size);
  at::Tensor onehot = torch::one_hot(dcls_integer_delays(position, kernel_size), kernel_size).to(weight.scalar_type());
  return weight.unsqueeze(-1) * onehot;
}

namespace {

// x [T, batch, in] -> [batch, out, T] (what BatchNorm1d takes), kernel [out, in, K] by delay.
at::Tensor delay_conv_bct(const at::Tensor& x, const at::Tensor& kernel) {
  GOLGI_CHECK(x.defined() && x.dim() == 3, "dcls: input must be [T, batch, in], got ",
              x.defined() ? x.sizes() : at::IntArrayRef{});
  check_float(kernel, "kernel");
  GOLGI_CHECK(kernel.dim() == 3, "dcls: kernel must be [out, in, K], got ", kernel.sizes());
  GOLGI_CHECK(x.size(2) == kernel.size(1), "dcls: input has ", x.size(2), " channels, the kernel expects ",
              kernel.size(1));
  GOLGI_CHECK(x.scalar_type() == kernel.scalar_type(), "dcls: input dtype ", x.scalar_type(),
              " differs from the kernel's ", kernel.scalar_type());
  const int64_t k = kernel.size(2);
  at::Tensor xb = x.permute({1, 2, 0});  // [batch, in, T]
  if (k > 1) xb = torch::constant_pad_nd(xb, {k - 1, 0});
  // conv1d is a cross-correlation: tap k multiplies x[t − (K−1) + k], i.e. delay K−1−k.
  return torch::conv1d(xb, kernel.flip({-1}));
}

}  // namespace

at::Tensor dcls_delay_conv(const at::Tensor& x, const at::Tensor& kernel) {
  return delay_conv_bct(x, kernel).permute({2, 0, 1}).contiguous();
}

void dcls_clamp_positions(const at::Tensor& position, int64_t kernel_size) {
  GOLGI_CHECK(kernel_size >= 1, "dcls: kernel_size must be >= 1, got ", kernel_size);
  check_float(position, "position");
  torch::NoGradGuard no_grad;
  position.clamp_(dcls_position_min(kernel_size), dcls_position_max(kernel_size));
}

double dcls_sigma(double sigma_init, double sigma_final, int64_t step, int64_t decay_steps) {
  GOLGI_CHECK(sigma_init > 0 && sigma_final > 0, "dcls: sigma_init and sigma_final must be > 0, got ", sigma_init,
              " and ", sigma_final);
  GOLGI_CHECK(decay_steps >= 1, "dcls: decay_steps must be >= 1, got ", decay_steps);
  GOLGI_CHECK(step >= 0, "dcls: step must be >= 0, got ", step);
  const double progress = std::min(1.0, static_cast<double>(step) / static_cast<double>(decay_steps));
  return sigma_init * std::pow(sigma_final / sigma_init, progress);
}

// ---------------------------------------------------------------------------------------------
// Options.

const OptionSchema<DclsOptions>& DclsOptions::schema() {
  static const auto schema =
      OptionSchema<DclsOptions>("dcls")
          .add("delays", &DclsOptions::delays_, "variant: no delays (K = 1), fixed random integer delays, learned",
               {"none", "fixed_random", "learned"})
          .add("kernel_size", &DclsOptions::kernel_size_, "taps K per synapse: delays 0..K-1 steps",
               between<int64_t>(1, 1024))
          .add("hidden", &DclsOptions::hidden_, "neurons per hidden layer", between<int64_t>(1, 65536))
          .add("hidden_layers", &DclsOptions::hidden_layers_, "hidden [delay, BN, LIF, dropout] layers",
               between<int64_t>(1, 16))
          .add("tau_m", &DclsOptions::tau_m_, "LIF and readout membrane time constant (steps, > 1)",
               at_least(1.0, /*inclusive=*/false))
          .add("v_threshold", &DclsOptions::v_threshold_, "LIF firing threshold", at_least(0.0, false))
          .add("surrogate_alpha", &DclsOptions::surrogate_alpha_, "ATan surrogate sharpness", at_least(0.0, false))
          .add("dropout", &DclsOptions::dropout_, "dropout probability (one mask per sample and neuron)",
               Range<double>{0.0, 1.0, true, false})
          .add("sigma_init", &DclsOptions::sigma_init_, "initial Gaussian width (steps); 0 means K / 2",
               at_least(0.0))
          .add("sigma_final", &DclsOptions::sigma_final_, "Gaussian width after the decay (steps)",
               at_least(0.0, false))
          .add("sigma_decay_fraction", &DclsOptions::sigma_decay_fraction_,
               "share of the training steps over which sigma decays", Range<double>{0.0, 1.0, false, true})
          .add("epochs", &DclsOptions::epochs_, "passes over the training split", at_least<int64_t>(1))
          .add("batch_size", &DclsOptions::batch_size_, "samples per step", at_least<int64_t>(1))
          .add("lr_weights", &DclsOptions::lr_weights_, "peak learning rate of the weights (AdamW, cosine)",
               at_least(0.0, false))
          .add("lr_positions", &DclsOptions::lr_positions_, "peak learning rate of the positions (Adam, cosine)",
               at_least(0.0, false))
          .add("weight_decay", &DclsOptions::weight_decay_, "AdamW weight decay of the weights", at_least(0.0))
          .add("seed", &DclsOptions::seed_, "seed of initialisation, delays, dropout and data order",
               at_least<int64_t>(0))
          .add("verbose", &DclsOptions::verbose_, "log one line per epoch to stderr");
  return schema;
}

void DclsOptions::validate() const {
  schema().validate(*this);
  const double sigma0 = sigma_init() > 0 ? sigma_init() : kernel_size() / 2.0;
  GOLGI_CHECK(delays() != "learned" || kernel_size() >= 2,
              "dcls: delays 'learned' needs kernel_size >= 2 (K = 1 has no delay to learn), got ", kernel_size());
  GOLGI_CHECK(delays() != "learned" || sigma0 >= sigma_final(), "dcls: sigma_init (", sigma0,
              ") must be >= sigma_final (", sigma_final(), "): sigma decays");
}

// ---------------------------------------------------------------------------------------------
// The network.

namespace {

enum class KernelMode { Gaussian, Rounded };

struct DelayLayer {
  at::Tensor weight;    // [out, in]
  at::Tensor position;  // [out, in], steps
  int64_t kernel_size = 1;
};

class DclsNet : public torch::nn::Module {
 public:
  DclsNet(int64_t inputs, int64_t classes, const DclsOptions& o, int64_t kernel_size, at::Generator& gen)
      : options_(o), kernel_size_(kernel_size) {
    int64_t in = inputs;
    const int64_t n_layers = o.hidden_layers() + 1;
    for (int64_t l = 0; l < n_layers; ++l) {
      const bool readout = l == o.hidden_layers();
      const int64_t out = readout ? classes : o.hidden();
      const std::string name = readout ? "readout" : "layer" + std::to_string(l);
      // PyTorch's default for Linear / Conv1d (kaiming_uniform with a = √5): U(±1/√fan_in), fan_in
      // = in (the paper's DCLS layers are built with one tap per synapse before the spacing).
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      DelayLayer layer;
      layer.kernel_size = kernel_size;
      layer.weight = register_parameter(name + "_weight", torch::rand({out, in}, gen, {}, torch::kFloat) * (2 * bound) - bound);
      at::Tensor pos;
      if (o.delays() == "learned") {
        pos = torch::rand({out, in}, gen, {}, torch::kFloat) * (dcls_position_max(kernel_size) - dcls_position_min(kernel_size)) +
              dcls_position_min(kernel_size);
      } else if (o.delays() == "fixed_random") {
        pos = torch::randint(kernel_size, {out, in}, gen, torch::kFloat) + dcls_position_min(kernel_size);
      } else {
        pos = torch::zeros({out, in}, torch::kFloat);
      }
      layer.position = register_parameter(name + "_position", pos, /*requires_grad=*/o.delays() == "learned");
      layers_.push_back(layer);
      names_.push_back(name);
      if (!readout) bns_.push_back(register_module(name + "_bn", torch::nn::BatchNorm1d(out)));
      in = out;
    }
    lif_ = spiking::LifOptions()
               .charge("decay_input")
               .tau_m(o.tau_m())
               .v_threshold(o.v_threshold())
               .reset("hard")
               .detach_reset(true)
               .surrogate("atan")
               .alpha(o.surrogate_alpha());
    // The readout integrates and never fires: its threshold is out of reach.
    readout_ = spiking::LifOptions().charge("decay_input").tau_m(o.tau_m()).v_threshold(1e30);
  }

  at::Tensor kernel(size_t l, KernelMode mode, double sigma) const {
    const auto& layer = layers_[l];
    if (mode == KernelMode::Rounded) return dcls_rounded_kernel(layer.weight, layer.position, layer.kernel_size);
    return dcls_kernel(layer.weight, layer.position, torch::full({}, sigma, layer.weight.options().requires_grad(false)),
                       layer.kernel_size);
  }

  // x [T, batch, in] -> Σ_t softmax(v_t) [batch, classes].
  at::Tensor forward(const at::Tensor& x, KernelMode mode, double sigma, at::Generator* gen) {
    at::Tensor h = x;
    for (size_t l = 0; l < layers_.size(); ++l) {
      at::Tensor y = delay_conv_bct(h, kernel(l, mode, sigma));  // [batch, out, T]
      if (l + 1 == layers_.size()) {
        at::Tensor v = spiking::lif_multistep(y.permute({2, 0, 1}).contiguous(), readout_).v;  // [T, batch, classes]
        return spiking::sum_softmax(v);
      }
      y = bns_[l]->forward(y);
      at::Tensor s = spiking::lif_multistep(y.permute({2, 0, 1}).contiguous(), lif_).spikes;  // [T, batch, out]
      if (is_training() && options_.dropout() > 0) {
        // One mask per sample and neuron for all steps, so a dropped neuron is silent for the
        // whole sample (SpikingJelly's layer.Dropout, which the paper uses).
        const double keep = 1.0 - options_.dropout();
        at::Tensor mask = torch::bernoulli(torch::full({1, s.size(1), s.size(2)}, keep, s.options()), *gen) / keep;
        s = s * mask;
      }
      h = s;
    }
    GOLGI_ASSERT(false, "unreachable");
    return {};
  }

  std::vector<at::Tensor> weight_parameters() const {
    std::vector<at::Tensor> out;
    for (const auto& p : named_parameters()) {
      if (p.key().find("_position") == std::string::npos) out.push_back(p.value());
    }
    return out;
  }
  std::vector<std::pair<std::string, at::Tensor>> named_weight_parameters() const {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& p : named_parameters()) {
      if (p.key().find("_position") == std::string::npos) out.emplace_back(p.key(), p.value());
    }
    return out;
  }
  std::vector<std::pair<std::string, at::Tensor>> named_positions() const {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (size_t l = 0; l < layers_.size(); ++l) out.emplace_back(names_[l] + "_position", layers_[l].position);
    return out;
  }
  void clamp_positions() {
    for (auto& layer : layers_) dcls_clamp_positions(layer.position, layer.kernel_size);
  }
  const std::vector<DelayLayer>& layers() const { return layers_; }

  // The evaluation network with integer delays and BatchNorm's running statistics folded in.
  DclsFoldedNetwork fold() const {
    torch::NoGradGuard no_grad;
    DclsFoldedNetwork folded;
    folded.tau_m = options_.tau_m();
    folded.v_threshold = options_.v_threshold();
    folded.kernel_size = kernel_size_;
    for (size_t l = 0; l < layers_.size(); ++l) {
      DclsFoldedLayer f;
      f.name = names_[l];
      at::Tensor w = layers_[l].weight.detach().to(torch::kDouble);
      f.delays = dcls_integer_delays(layers_[l].position.detach(), kernel_size_);
      if (l < bns_.size()) {
        const auto& bn = bns_[l];
        at::Tensor scale = bn->weight.detach().to(torch::kDouble) /
                           (bn->running_var.to(torch::kDouble) + bn->options.eps()).sqrt();
        f.weight = w * scale.unsqueeze(1);
        f.bias = bn->bias.detach().to(torch::kDouble) - scale * bn->running_mean.to(torch::kDouble);
      } else {
        f.weight = w;
        f.bias = torch::zeros({w.size(0)}, torch::kDouble);
      }
      folded.layers.push_back(std::move(f));
    }
    return folded;
  }
  const std::vector<std::string>& names() const { return names_; }

 private:
  DclsOptions options_;
  int64_t kernel_size_;
  std::vector<DelayLayer> layers_;
  std::vector<std::string> names_;
  std::vector<torch::nn::BatchNorm1d> bns_;
  spiking::LifOptions lif_, readout_;
};

// Inputs [N, T, C] -> time-major float [T, N, C].
at::Tensor time_major(const at::Tensor& inputs) { return inputs.to(torch::kFloat).permute({1, 0, 2}).contiguous(); }

double accuracy(DclsNet& net, const data::Dataset& ds, KernelMode mode, double sigma) {
  torch::NoGradGuard no_grad;
  net.eval();
  int64_t correct = 0;
  const int64_t n = ds.size(), chunk = 250;
  for (int64_t b = 0; b < n; b += chunk) {
    const int64_t e = std::min(n, b + chunk);
    data::Batch batch = ds.range(b, e);
    at::Tensor out = net.forward(time_major(batch.inputs), mode, sigma, nullptr);
    correct += out.argmax(-1).eq(batch.targets).sum().item<int64_t>();
  }
  return n == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(n);
}

DclsDelaySummary summarise(const std::string& name, const at::Tensor& position, int64_t kernel_size) {
  DclsDelaySummary s;
  s.layer = name;
  at::Tensor d = dcls_integer_delays(position, kernel_size);
  s.synapses = d.numel();
  at::Tensor df = d.to(torch::kDouble);
  s.mean = df.mean().item<double>();
  s.std = d.numel() > 1 ? df.std(/*unbiased=*/false).item<double>() : 0.0;
  s.min = d.min().item<int64_t>();
  s.max = d.max().item<int64_t>();
  s.at_bounds = (d.eq(0).logical_or(d.eq(kernel_size - 1))).to(torch::kDouble).mean().item<double>();
  s.bin_width = std::max<int64_t>(1, (kernel_size + 7) / 8);
  const int64_t bins = (kernel_size + s.bin_width - 1) / s.bin_width;
  s.histogram.assign(static_cast<size_t>(bins), 0);
  at::Tensor flat = d.reshape({-1}).contiguous();
  auto acc = flat.accessor<int64_t, 1>();
  for (int64_t i = 0; i < acc.size(0); ++i) ++s.histogram[static_cast<size_t>(acc[i] / s.bin_width)];
  return s;
}

}  // namespace

Json DclsDelaySummary::to_json() const {
  return {{"layer", layer}, {"synapses", synapses}, {"mean", mean}, {"std", std}, {"min", min}, {"max", max},
          {"at_bounds", at_bounds}, {"bin_width", bin_width}, {"histogram", histogram}};
}

Json DclsResult::to_json() const {
  Json summary = Json::array();
  for (const auto& s : delay_summary) summary.push_back(s.to_json());
  return {{"delays", delays},
          {"kernel_size", kernel_size},
          {"test_accuracy", test_accuracy},
          {"test_accuracy_gaussian", test_accuracy_gaussian},
          {"train_accuracy", train_accuracy},
          {"final_sigma", final_sigma},
          {"epoch_loss", epoch_loss},
          {"delay_summary", summary},
          {"parameters", parameters},
          {"synapses", synapses},
          {"seconds", seconds}};
}

DclsResult train_dcls(const data::Dataset& train, const data::Dataset& test, const DclsOptions& options) {
  options.validate();
  const auto start = std::chrono::steady_clock::now();
  GOLGI_CHECK(train.inputs().dim() == 3 && train.size() > 0, "dcls: training inputs must be [N, T, channels] with N > 0, got ",
              train.inputs().sizes());
  GOLGI_CHECK(test.inputs().dim() == 3 && test.inputs().size(2) == train.inputs().size(2),
              "dcls: test inputs must be [N, T, ", train.inputs().size(2), "], got ", test.inputs().sizes());
  const int64_t classes = std::max(train.num_classes(), test.num_classes());
  GOLGI_CHECK(classes >= 2, "dcls: need at least 2 classes, got ", classes);
  const bool learned = options.delays() == "learned";
  const int64_t k = options.delays() == "none" ? 1 : options.kernel_size();
  const uint64_t seed = static_cast<uint64_t>(options.seed());

  auto init_gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, "dcls/init"));
  auto drop_gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, "dcls/dropout"));
  DclsNet net(train.inputs().size(2), classes, options, k, init_gen);

  train::Optimizer opt_w(net.named_weight_parameters(), train::OptimizerOptions().name("adamw").weight_decay(options.weight_decay()));
  std::unique_ptr<train::Optimizer> opt_p;
  if (learned) opt_p = std::make_unique<train::Optimizer>(net.named_positions(), train::OptimizerOptions().name("adam"));

  const int64_t n = train.size();
  const int64_t steps_per_epoch = (n + options.batch_size() - 1) / options.batch_size();
  const int64_t total_steps = steps_per_epoch * options.epochs();
  const int64_t decay_steps =
      std::max<int64_t>(1, static_cast<int64_t>(std::llround(options.sigma_decay_fraction() * total_steps)));
  const double sigma0 = options.sigma_init() > 0 ? options.sigma_init() : k / 2.0;
  const KernelMode train_mode = learned ? KernelMode::Gaussian : KernelMode::Rounded;

  DclsResult result;
  result.delays = options.delays();
  result.kernel_size = k;
  for (const auto& p : net.parameters()) {
    if (p.requires_grad()) result.parameters += p.numel();
  }
  for (const auto& layer : net.layers()) result.synapses += layer.weight.numel();

  int64_t step = 0;
  double sigma = sigma0;
  for (int64_t epoch = 0; epoch < options.epochs(); ++epoch) {
    net.train();
    const auto order = data::epoch_order(n, derive_seed(seed, "dcls/order"), epoch, /*shuffle=*/true);
    double loss_sum = 0;
    int64_t seen = 0;
    for (int64_t b = 0; b < n; b += options.batch_size()) {
      const int64_t e = std::min(n, b + options.batch_size());
      std::vector<int64_t> ids(order.begin() + b, order.begin() + e);
      data::Batch batch = train.batch(ids);
      sigma = learned ? dcls_sigma(sigma0, options.sigma_final(), step, decay_steps) : 0.0;
      at::Tensor out = net.forward(time_major(batch.inputs), train_mode, sigma, &drop_gen);
      // The paper's loss: cross-entropy with Σ_t softmax(v_t) as the logits.
      at::Tensor loss = torch::nn::functional::cross_entropy(out, batch.targets);
      opt_w.zero_grad();
      if (opt_p) opt_p->zero_grad();
      loss.backward();
      opt_w.step(train::learning_rate(train::ScheduleOptions().name("cosine").lr(options.lr_weights()), step, total_steps));
      if (opt_p) {
        opt_p->step(train::learning_rate(train::ScheduleOptions().name("cosine").lr(options.lr_positions()), step, total_steps));
        net.clamp_positions();
      }
      loss_sum += loss.item<double>() * static_cast<double>(e - b);
      seen += e - b;
      ++step;
    }
    result.epoch_loss.push_back(loss_sum / static_cast<double>(seen));
    if (options.verbose()) {
      std::fprintf(stderr, "dcls %s seed %lld epoch %lld: loss %.4f sigma %.3f (%.0f s)\n", options.delays().c_str(),
                   static_cast<long long>(options.seed()), static_cast<long long>(epoch + 1), result.epoch_loss.back(),
                   sigma, seconds_since(start));
    }
  }
  if (learned) sigma = dcls_sigma(sigma0, options.sigma_final(), std::max<int64_t>(0, step - 1), decay_steps);
  result.final_sigma = sigma;
  result.test_accuracy = accuracy(net, test, KernelMode::Rounded, 0.0);
  result.test_accuracy_gaussian = learned ? accuracy(net, test, KernelMode::Gaussian, sigma) : result.test_accuracy;
  result.train_accuracy = accuracy(net, train, KernelMode::Rounded, 0.0);
  for (size_t l = 0; l < net.layers().size(); ++l)
    result.delay_summary.push_back(summarise(net.names()[l], net.layers()[l].position, net.layers()[l].kernel_size));
  result.network = net.fold();
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace golgi::methods
