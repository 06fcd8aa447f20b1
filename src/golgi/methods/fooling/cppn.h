// Compositional pattern-producing networks (CPPNs; Stanley 2007, "Compositional pattern producing
// networks: A novel abstraction of development") as the indirect image encoding of Nguyen,
// Yosinski & Clune 2015 ("Deep Neural Networks are Easily Fooled", CVPR, arXiv:1412.1897,
// sec. 3.1 and 3.3; paper id `fooling`).
//
// A CPPN is a feed-forward network evaluated once per pixel. Its inputs at pixel (row y, column x)
// are
//   x, y   the raw pixel indices (0 .. W−1, 0 .. H−1), as in the paper's code,
//   d      the distance to the image centre ((W−1)/2, (H−1)/2), normalised so that the corners have
//          d = 1 and the centre d = 0,
//   bias   the constant 1.
// Every other node computes a = f(Σ_j w_j · a_j) over its incoming connections (a node without
// any gets f(0)), with f one of
//   sine      sin(s)
//   sigmoid   1 / (1 + e^−s)
//   gaussian  e^(−s²)
//   linear    s
// and the image is one output node's |a| clipped to [0, 1] (grey pixels in pixel units).
//
// Genome layout: node 0..3 the inputs (x, y, d, bias), node 4 the output, nodes 5.. hidden. Each
// node has a rank (inputs 0, the output 1, hidden nodes strictly between); a connection runs from
// a lower to a higher rank, so every genome is acyclic by construction and is evaluated in rank
// order.
//
// Mutation (one call, in this order, after Sferes2's `gen::Dnn` that the paper used; rates are options):
//   1. each connection's weight, with probability weight_rate: polynomial mutation within
//      [−max_weight, max_weight] (variation.h, eta_m);
//   2. each non-input node's activation, with probability activation_rate: a new one drawn
//      uniformly from the four;
//   3. with probability add_connection_rate: a new connection between a random pair of nodes of
//      increasing rank not yet connected (the target not an input), weight uniform in ±max_weight;
//   4. with probability remove_connection_rate: a random connection is removed;
//   5. with probability add_node_rate: a random connection a→b is split into a→n (a new uniform
//      weight) and n→b (the old weight), n hidden with a random activation and rank halfway;
//   6. with probability remove_node_rate: a random hidden node and its connections are removed.
// Additions stop at max_hidden hidden nodes and max_connections connections.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi {
class SplitMix64;
}

namespace golgi::methods {

enum class CppnActivation { kSine = 0, kSigmoid = 1, kGaussian = 2, kLinear = 3 };

const char* cppn_activation_name(CppnActivation activation);
double cppn_activate(CppnActivation activation, double s);

struct CppnOptions {
  GOLGI_ARG(double, max_weight) = 3.0;             // weights lie in [−max_weight, max_weight]
  GOLGI_ARG(double, eta_m) = 15.0;                 // polynomial mutation of the weights
  GOLGI_ARG(double, weight_rate) = 0.1;            // per connection
  GOLGI_ARG(double, activation_rate) = 0.1;        // per non-input node
  GOLGI_ARG(double, add_connection_rate) = 0.1;    // per mutation call
  GOLGI_ARG(double, remove_connection_rate) = 0.01;
  GOLGI_ARG(double, add_node_rate) = 0.1;
  GOLGI_ARG(double, remove_node_rate) = 0.01;
  GOLGI_ARG(int64_t, max_hidden) = 30;
  GOLGI_ARG(int64_t, max_connections) = 150;
  static const OptionSchema<CppnOptions>& schema();
};

struct CppnConnection {
  int64_t from = 0, to = 0;
  double weight = 0;
};

class Cppn {
 public:
  static constexpr int64_t kInputs = 4;  // x, y, d, bias
  static constexpr int64_t kOutput = 4;  // the output node's index

  // Inputs and the output only, no connections; the output's activation given.
  explicit Cppn(CppnActivation output_activation = CppnActivation::kSigmoid);
  // The paper's starting genome: the four inputs each wired to the output with a weight uniform in
  // ±max_weight, the output's activation drawn uniformly.
  static Cppn random(const CppnOptions& options, SplitMix64& rng);

  // Construction by hand (tests, reading genomes). add_hidden returns the new node's index; rank
  // must lie strictly in (0, 1). connect requires rank(from) < rank(to), no duplicate, and a
  // weight that is finite. All throw golgi::Error naming the problem.
  int64_t add_hidden(CppnActivation activation, double rank);
  void connect(int64_t from, int64_t to, double weight);
  void set_activation(int64_t node, CppnActivation activation);

  void mutate(const CppnOptions& options, SplitMix64& rng);

  // The image, [height, width] float in [0, 1]. height, width >= 1.
  at::Tensor render(int64_t height, int64_t width) const;
  // Into out[height * width] (row-major); the allocation-light path of the batch renderer.
  void render_into(float* out, int64_t height, int64_t width) const;

  int64_t nodes() const { return static_cast<int64_t>(activation_.size()); }
  int64_t hidden() const { return nodes() - kInputs - 1; }
  const std::vector<CppnConnection>& connections() const { return connections_; }
  CppnActivation activation(int64_t node) const;
  double rank(int64_t node) const;

  // {"nodes": [{"activation", "rank"}], "connections": [{"from", "to", "weight"}]}.
  Json to_json() const;

 private:
  bool connected(int64_t from, int64_t to) const;
  void check_node(int64_t node, const char* what) const;
  void remove_hidden(int64_t node);

  std::vector<CppnActivation> activation_;  // per node (inputs: unused)
  std::vector<double> rank_;
  std::vector<CppnConnection> connections_;
};

// Renders a batch: [N, 1, height, width] float in [0, 1].
at::Tensor render_cppns(const std::vector<Cppn>& genomes, int64_t height, int64_t width);

}  // namespace golgi::methods
