#include "golgi/methods/fooling/cppn.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/methods/fooling/variation.h"

namespace golgi::methods {

namespace {

constexpr int64_t kActivations = 4;

CppnActivation random_activation(SplitMix64& rng) { return static_cast<CppnActivation>(rng.below(kActivations)); }

double uniform_weight(double max_weight, SplitMix64& rng) { return (2.0 * rng.uniform() - 1.0) * max_weight; }

}  // namespace

const char* cppn_activation_name(CppnActivation activation) {
  switch (activation) {
    case CppnActivation::kSine: return "sine";
    case CppnActivation::kSigmoid: return "sigmoid";
    case CppnActivation::kGaussian: return "gaussian";
    case CppnActivation::kLinear: return "linear";
  }
  GOLGI_ASSERT(false, "unknown CPPN activation ", static_cast<int>(activation));
  return "";
}

double cppn_activate(CppnActivation activation, double s) {
  switch (activation) {
    case CppnActivation::kSine: return std::sin(s);
    case CppnActivation::kSigmoid: return 1.0 / (1.0 + std::exp(-s));
    case CppnActivation::kGaussian: return std::exp(-s * s);
    case CppnActivation::kLinear: return s;
  }
  GOLGI_ASSERT(false, "unknown CPPN activation ", static_cast<int>(activation));
  return 0;
}

const OptionSchema<CppnOptions>& CppnOptions::schema() {
  static const auto schema =
      OptionSchema<CppnOptions>("cppn")
          .add("max_weight", &CppnOptions::max_weight_, "weights lie in [-max_weight, max_weight]",
               at_least(0.0, /*inclusive=*/false))
          .add("eta_m", &CppnOptions::eta_m_, "distribution index of the weights' polynomial mutation", at_least(0.0))
          .add("weight_rate", &CppnOptions::weight_rate_, "probability that a connection's weight is mutated",
               between(0.0, 1.0))
          .add("activation_rate", &CppnOptions::activation_rate_,
               "probability that a node's activation function is redrawn", between(0.0, 1.0))
          .add("add_connection_rate", &CppnOptions::add_connection_rate_, "probability of adding a connection",
               between(0.0, 1.0))
          .add("remove_connection_rate", &CppnOptions::remove_connection_rate_,
               "probability of removing a connection", between(0.0, 1.0))
          .add("add_node_rate", &CppnOptions::add_node_rate_, "probability of splitting a connection with a node",
               between(0.0, 1.0))
          .add("remove_node_rate", &CppnOptions::remove_node_rate_, "probability of removing a hidden node",
               between(0.0, 1.0))
          .add("max_hidden", &CppnOptions::max_hidden_, "hidden nodes at most", at_least<int64_t>(0))
          .add("max_connections", &CppnOptions::max_connections_, "connections at most", at_least<int64_t>(0));
  return schema;
}

Cppn::Cppn(CppnActivation output_activation) {
  activation_.assign(kInputs, CppnActivation::kLinear);
  rank_.assign(kInputs, 0.0);
  activation_.push_back(output_activation);
  rank_.push_back(1.0);
}

Cppn Cppn::random(const CppnOptions& options, SplitMix64& rng) {
  Cppn cppn(random_activation(rng));
  for (int64_t i = 0; i < kInputs; ++i) cppn.connect(i, kOutput, uniform_weight(options.max_weight(), rng));
  return cppn;
}

void Cppn::check_node(int64_t node, const char* what) const {
  GOLGI_CHECK(node >= 0 && node < nodes(), "CPPN ", what, ": node ", node, " does not exist (the genome has ", nodes(),
              " nodes)");
}

CppnActivation Cppn::activation(int64_t node) const {
  check_node(node, "activation");
  return activation_[node];
}

double Cppn::rank(int64_t node) const {
  check_node(node, "rank");
  return rank_[node];
}

int64_t Cppn::add_hidden(CppnActivation activation, double rank) {
  GOLGI_CHECK(rank > 0.0 && rank < 1.0, "CPPN add_hidden: a hidden node's rank must lie strictly between 0 (inputs) "
              "and 1 (the output), got ", rank);
  activation_.push_back(activation);
  rank_.push_back(rank);
  return nodes() - 1;
}

bool Cppn::connected(int64_t from, int64_t to) const {
  return std::any_of(connections_.begin(), connections_.end(),
                     [&](const CppnConnection& c) { return c.from == from && c.to == to; });
}

void Cppn::connect(int64_t from, int64_t to, double weight) {
  check_node(from, "connect");
  check_node(to, "connect");
  GOLGI_CHECK(rank_[from] < rank_[to], "CPPN connect: ", from, " -> ", to, " would not be feed-forward (ranks ",
              rank_[from], " and ", rank_[to], "); connect a lower rank to a higher one");
  GOLGI_CHECK(std::isfinite(weight), "CPPN connect: the weight of ", from, " -> ", to, " is not finite");
  GOLGI_CHECK(!connected(from, to), "CPPN connect: ", from, " -> ", to, " already exists");
  connections_.push_back({from, to, weight});
}

void Cppn::set_activation(int64_t node, CppnActivation activation) {
  check_node(node, "set_activation");
  GOLGI_CHECK(node >= kInputs, "CPPN set_activation: node ", node, " is an input; inputs have no activation");
  activation_[node] = activation;
}

void Cppn::remove_hidden(int64_t node) {
  GOLGI_ASSERT(node > kOutput && node < nodes(), "remove_hidden of a non-hidden node ", node);
  activation_.erase(activation_.begin() + node);
  rank_.erase(rank_.begin() + node);
  std::vector<CppnConnection> kept;
  for (CppnConnection c : connections_) {
    if (c.from == node || c.to == node) continue;
    if (c.from > node) --c.from;
    if (c.to > node) --c.to;
    kept.push_back(c);
  }
  connections_ = std::move(kept);
}

void Cppn::mutate(const CppnOptions& options, SplitMix64& rng) {
  const double w = options.max_weight();
  for (CppnConnection& c : connections_) {
    if (rng.uniform() >= options.weight_rate()) continue;
    c.weight = polynomial_mutation(std::clamp(c.weight, -w, w), rng.uniform(), -w, w, options.eta_m());
  }
  for (int64_t node = kInputs; node < nodes(); ++node)
    if (rng.uniform() < options.activation_rate()) activation_[node] = random_activation(rng);

  if (rng.uniform() < options.add_connection_rate() &&
      static_cast<int64_t>(connections_.size()) < options.max_connections()) {
    // A few random tries: in a dense genome most pairs are taken, and giving up then is harmless.
    for (int attempt = 0; attempt < 20; ++attempt) {
      const int64_t from = static_cast<int64_t>(rng.below(nodes()));
      const int64_t to = kInputs + static_cast<int64_t>(rng.below(nodes() - kInputs));
      if (rank_[from] < rank_[to] && !connected(from, to)) {
        connections_.push_back({from, to, uniform_weight(w, rng)});
        break;
      }
    }
  }
  if (rng.uniform() < options.remove_connection_rate() && !connections_.empty())
    connections_.erase(connections_.begin() + static_cast<int64_t>(rng.below(connections_.size())));
  if (rng.uniform() < options.add_node_rate() && hidden() < options.max_hidden() && !connections_.empty() &&
      static_cast<int64_t>(connections_.size()) < options.max_connections()) {
    const size_t split = rng.below(connections_.size());
    const CppnConnection old = connections_[split];
    connections_.erase(connections_.begin() + static_cast<int64_t>(split));
    const int64_t n = add_hidden(random_activation(rng), 0.5 * (rank_[old.from] + rank_[old.to]));
    connections_.push_back({old.from, n, uniform_weight(w, rng)});
    connections_.push_back({n, old.to, old.weight});
  }
  if (rng.uniform() < options.remove_node_rate() && hidden() > 0)
    remove_hidden(kOutput + 1 + static_cast<int64_t>(rng.below(hidden())));
}

void Cppn::render_into(float* out, int64_t height, int64_t width) const {
  GOLGI_CHECK(height >= 1 && width >= 1, "CPPN render: the image must be at least 1 x 1, got ", height, " x ", width);
  const int64_t pixels = height * width;
  std::vector<float> values(static_cast<size_t>(nodes() * pixels), 0.0f);
  const double cx = 0.5 * static_cast<double>(width - 1), cy = 0.5 * static_cast<double>(height - 1);
  const double d_max = std::max(std::sqrt(cx * cx + cy * cy), 1e-12);  // a 1 x 1 image has d = 0
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const int64_t p = y * width + x;
      values[0 * pixels + p] = static_cast<float>(x);
      values[1 * pixels + p] = static_cast<float>(y);
      values[2 * pixels + p] = static_cast<float>(std::hypot(x - cx, y - cy) / d_max);
      values[3 * pixels + p] = 1.0f;
    }
  }
  std::vector<int64_t> order(static_cast<size_t>(nodes() - kInputs));
  std::iota(order.begin(), order.end(), kInputs);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return rank_[a] < rank_[b]; });
  std::vector<std::vector<const CppnConnection*>> incoming(static_cast<size_t>(nodes()));
  for (const CppnConnection& c : connections_) incoming[c.to].push_back(&c);
  std::vector<double> sum(static_cast<size_t>(pixels));
  for (int64_t node : order) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (const CppnConnection* c : incoming[node]) {
      const float* source = values.data() + c->from * pixels;
      for (int64_t p = 0; p < pixels; ++p) sum[p] += c->weight * source[p];
    }
    float* target = values.data() + node * pixels;
    const CppnActivation f = activation_[node];
    for (int64_t p = 0; p < pixels; ++p) target[p] = static_cast<float>(cppn_activate(f, sum[p]));
  }
  const float* output = values.data() + kOutput * pixels;
  for (int64_t p = 0; p < pixels; ++p) {
    const float v = std::fabs(output[p]);
    out[p] = std::isfinite(v) ? std::min(v, 1.0f) : 1.0f;  // |±inf| of a huge linear sum is full intensity
  }
}

at::Tensor Cppn::render(int64_t height, int64_t width) const {
  GOLGI_CHECK(height >= 1 && width >= 1, "CPPN render: the image must be at least 1 x 1, got ", height, " x ", width);
  at::Tensor image = torch::empty({height, width}, torch::kFloat32);
  render_into(image.data_ptr<float>(), height, width);
  return image;
}

Json Cppn::to_json() const {
  Json nodes_json = Json::array();
  for (int64_t i = 0; i < nodes(); ++i) {
    const char* role = i < kInputs ? (i == 0 ? "x" : i == 1 ? "y" : i == 2 ? "d" : "bias") : i == kOutput ? "output" : "hidden";
    Json node = {{"role", role}, {"rank", rank_[i]}};
    if (i >= kInputs) node["activation"] = cppn_activation_name(activation_[i]);
    nodes_json.push_back(node);
  }
  Json connections_json = Json::array();
  for (const CppnConnection& c : connections_)
    connections_json.push_back({{"from", c.from}, {"to", c.to}, {"weight", c.weight}});
  return {{"nodes", nodes_json}, {"connections", connections_json}};
}

at::Tensor render_cppns(const std::vector<Cppn>& genomes, int64_t height, int64_t width) {
  GOLGI_CHECK(height >= 1 && width >= 1, "CPPN render: the image must be at least 1 x 1, got ", height, " x ", width);
  at::Tensor images = torch::empty({static_cast<int64_t>(genomes.size()), 1, height, width}, torch::kFloat32);
  float* data = images.data_ptr<float>();
  for (size_t i = 0; i < genomes.size(); ++i) genomes[i].render_into(data + i * height * width, height, width);
  return images;
}

}  // namespace golgi::methods
