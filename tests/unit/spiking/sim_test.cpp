// The clock-driven simulator (spiking/sim): analytic spike times of a single LIF neuron, the
// refractory clamp, delays, CSR construction, ring-buffer wrap-around, Poisson statistics,
// determinism (seed and thread count), plasticity (STDP sign and size) and the JSON validation.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "golgi/core/json.h"
#include "golgi/spiking/sim/network.h"
#include "golgi/spiking/sim/plasticity.h"
#include "golgi/spiking/sim/simulator.h"
#include "golgi/spiking/sim/synapses.h"

namespace {

using golgi::Json;
namespace sim = golgi::spiking::sim;

// One LIF neuron with constant current and a state monitor.
Json single_neuron(double I_e, double t_ref, int64_t steps) {
  return {{"dt", 0.1},
          {"steps", steps},
          {"populations",
           {{{"name", "n"}, {"size", 1}, {"E_L", -70.0}, {"V_reset", -70.0}, {"V_th", -55.0}, {"tau_m", 10.0},
             {"C_m", 250.0}, {"I_e", I_e}, {"t_ref", t_ref}}}},
          {"monitors", {{"spikes", {"n"}}, {"state", {{{"population", "n"}, {"neurons", {0}}}}}}}};
}

// Expects parse_network(json) to fail with a message containing every one of `parts`.
void expect_error(const Json& json, const std::vector<std::string>& parts) {
  try {
    sim::parse_network(json);
    ADD_FAILURE() << "no error for " << json.dump();
  } catch (const golgi::Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(SimNeuron, ConstantCurrentSpikesAtAnalyticSteps) {
  // V_inf = E_L + I_e tau_m / C_m = -70 + 500 * 10 / 250 = -50 mV. From V_reset the membrane
  // reaches V_th in the k-th integration, k = ceil(tau/dt * ln((V_inf - V_reset)/(V_inf - V_th))).
  // Steps count from 0, so the first spike is at step k - 1; after a spike at s the neuron is
  // clamped through s + R - 1, integrates from s + R, and spikes again at s + R + k - 1.
  const double I_e = 500.0, t_ref = 2.0, dt = 0.1, tau = 10.0;
  const double v_inf = -70.0 + I_e * tau / 250.0;
  const double x = tau / dt * std::log((v_inf - (-70.0)) / (v_inf - (-55.0)));
  const int64_t k = static_cast<int64_t>(std::ceil(x));
  ASSERT_GT(std::fabs(x - std::round(x)), 1e-3) << "pick parameters away from a step boundary";
  const int64_t R = static_cast<int64_t>(std::round(t_ref / dt));
  sim::Simulator<double> s(sim::parse_network(single_neuron(I_e, t_ref, 1000)), 1);
  s.run(1000);
  const auto& spikes = s.spikes("n");
  ASSERT_GE(spikes.size(), 5u);
  EXPECT_EQ(spikes.step[0], k - 1);
  for (size_t i = 1; i < spikes.size(); ++i) EXPECT_EQ(spikes.step[i] - spikes.step[i - 1], R + k - 1) << i;
  // The same in float32.
  sim::Simulator<float> f(sim::parse_network(single_neuron(I_e, t_ref, 1000)), 1);
  f.run(1000);
  EXPECT_EQ(f.spikes("n").step, spikes.step);
}

TEST(SimNeuron, RefractoryClampsAtResetForTref) {
  const double t_ref = 3.0;  // 30 steps
  sim::Simulator<double> s(sim::parse_network(single_neuron(600.0, t_ref, 400)), 1);
  s.run(400);
  const auto& spikes = s.spikes("n");
  ASSERT_GE(spikes.size(), 2u);
  const auto& v = s.states().at(0).values;
  ASSERT_EQ(v.size(), 400u);
  const int64_t first = spikes.step[0];
  // V_m after steps first .. first + R - 1 is V_reset; at first + R the neuron integrates again.
  for (int64_t n = first; n < first + 30; ++n) EXPECT_EQ(v[n], -70.0) << "step " << n;
  EXPECT_GT(v[first + 30], -70.0);
  EXPECT_GE(spikes.step[1] - spikes.step[0], 30);
}

// A spike generator firing neuron 0 at `spike_step` into a LIF neuron at rest through weight 2 mV.
Json delay_network(int64_t delay, int64_t spike_step, int64_t steps) {
  return {{"dt", 0.1},
          {"steps", steps},
          {"populations", {{{"name", "n"}, {"size", 1}, {"E_L", -70.0}, {"V_th", -55.0}, {"t_ref", 0.0}}}},
          {"inputs", {{{"name", "g"}, {"type", "spike_generator"}, {"size", 1}, {"spikes", {{0, spike_step}}}}}},
          {"projections",
           {{{"source", "g"}, {"target", "n"}, {"connect", "one_to_one"}, {"weight", 2.0}, {"delay", delay}}}},
          {"monitors", {{"state", {{{"population", "n"}, {"neurons", {0}}}}}}}};
}

TEST(SimSynapses, DelayOfDStepsArrivesAtStepSPlusD) {
  for (int64_t d : {0, 1, 3, 17}) {
    sim::Simulator<double> s(sim::parse_network(delay_network(d, 5, 40)), 1);
    s.run(40);
    const auto& v = s.states().at(0).values;
    for (int64_t n = 0; n < 5 + d; ++n) EXPECT_EQ(v[n], -70.0) << "d " << d << " step " << n;
    EXPECT_DOUBLE_EQ(v[5 + d], -68.0) << "d " << d;  // added after step 5 + d's update
    EXPECT_NEAR(v[6 + d], -70.0 + 2.0 * std::exp(-0.01), 1e-12) << "then it decays";
  }
}

// A neuron driven over threshold at steps 3 and 4 by a generator (weight 20 mV from rest at −70,
// V_th −55): it spikes at step 4 (input of step 3), and step 4's input either is discarded
// (default order, synapses before resets) or lands on the reset membrane (deliver_after_reset).
TEST(SimSynapses, DeliverAfterResetKeepsTheInputOfTheSpikeStep) {
  for (bool after : {false, true}) {
    Json net = {{"dt", 1.0},
                {"steps", 10},
                {"deliver_after_reset", after},
                {"populations",
                 {{{"name", "n"}, {"size", 1}, {"E_L", -70.0}, {"V_reset", -70.0}, {"V_th", -55.0}, {"t_ref", 0.0}}}},
                {"inputs", {{{"name", "g"}, {"type", "spike_generator"}, {"size", 1}, {"spikes", {{0, 3}, {0, 4}}}}}},
                {"projections",
                 {{{"source", "g"}, {"target", "n"}, {"connect", "one_to_one"}, {"weight", 20.0}, {"delay", 0}}}},
                {"monitors", {{"spikes", {"n"}}, {"state", {{{"population", "n"}, {"neurons", {0}}}}}}}};
    sim::Simulator<double> s(sim::parse_network(net), 1);
    s.run(10);
    const auto& v = s.states().at(0).values;
    EXPECT_DOUBLE_EQ(v[3], -50.0);
    ASSERT_GE(s.spikes("n").size(), 1u);
    EXPECT_EQ(s.spikes("n").step[0], 4);
    // After step 4: reset to −70, plus the second 20 mV when delivered after the reset.
    EXPECT_DOUBLE_EQ(v[4], after ? -50.0 : -70.0) << "after " << after;
    // Kept, it integrates to −70 + 20·e^(−0.1) = −51.9 ≥ V_th at step 5: a second spike.
    ASSERT_EQ(s.spikes("n").size(), after ? 2u : 1u) << "after " << after;
    if (after) {
      EXPECT_EQ(s.spikes("n").step[1], 5);
    }
  }
}

TEST(SimSynapses, CsrFromTripletsSortsRows) {
  auto c = sim::csr_from_triplets<float>(3, 4, {2, 0, 2, 0, 1}, {1, 3, 0, 1, 2}, {1, 2, 3, 4, 5}, {1, 1, 2, 3, 4});
  EXPECT_EQ(c.row_ptr, (std::vector<int64_t>{0, 2, 3, 5}));
  EXPECT_EQ(c.post, (std::vector<int32_t>{1, 3, 2, 0, 1}));
  EXPECT_EQ(c.weight, (std::vector<float>{4, 2, 5, 3, 1}));
  EXPECT_EQ(c.delay, (std::vector<uint16_t>{3, 1, 4, 2, 1}));
  EXPECT_EQ(c.max_delay(), 4);
  EXPECT_FALSE(c.uniform_delay());
  c.build_incoming();
  EXPECT_EQ(c.col_ptr, (std::vector<int64_t>{0, 1, 3, 4, 5}));
  EXPECT_THROW(sim::csr_from_triplets<float>(3, 4, {3}, {0}, {1}, {1}), golgi::Error);
  EXPECT_THROW(sim::csr_from_triplets<float>(3, 4, {0}, {0}, {1}, {-1}), golgi::Error);
}

TEST(SimSynapses, FixedProbabilityIsSeededAndHasTheRightDensity) {
  const int64_t n = 2000;
  const double p = 0.01;
  auto a = sim::csr_fixed_probability<float>(n, n, p, false, 0.5, 3, 42);
  auto b = sim::csr_fixed_probability<float>(n, n, p, false, 0.5, 3, 42);
  auto c = sim::csr_fixed_probability<float>(n, n, p, false, 0.5, 3, 43);
  EXPECT_EQ(a.post, b.post);
  EXPECT_NE(a.post, c.post);
  const double expected = p * n * (n - 1), sd = std::sqrt(expected * (1 - p));
  EXPECT_NEAR(static_cast<double>(a.size()), expected, 5 * sd);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = a.row_begin(i); k < a.row_end(i); ++k) {
      ASSERT_NE(a.post[k], i) << "autapse";
      if (k > a.row_begin(i)) {
        ASSERT_LT(a.post[k - 1], a.post[k]);
      }
    }
  EXPECT_EQ(sim::csr_fixed_probability<float>(10, 10, 1.0, true, 1, 1, 0).size(), 100);
  EXPECT_EQ(sim::csr_fixed_probability<float>(10, 10, 0.0, true, 1, 1, 0).size(), 0);
}

TEST(SimSynapses, RingBufferWrapsAround) {
  sim::RingBuffer<double> ring(4, 2);
  ring.add(2, 3, 1, 1.5);   // slot (2 + 3) mod 4 = 1
  ring.add(6, 3, 1, 0.25);  // step 9: slot 1 again, a later lap
  EXPECT_EQ(ring.slot_of(5), 1);
  EXPECT_EQ(ring.at_step(5)[1], 1.75);
  EXPECT_EQ(ring.at_step(9), ring.at_step(5));
  EXPECT_THROW(ring.add(0, 4, 0, 1.0), golgi::InternalError);
  // In a run: 60 input spikes through a delay of 7 (8 slots, 7+ laps) each land exactly 7 steps later.
  Json net = delay_network(7, 0, 80);
  Json spikes = Json::array();
  for (int n = 0; n < 60; n += 3) spikes.push_back({0, n});
  net["inputs"][0]["spikes"] = spikes;
  net["populations"][0]["tau_m"] = 1e9;  // no leak: V_m counts arrivals
  net["populations"][0]["V_th"] = 100.0;
  sim::Simulator<double> s(sim::parse_network(net), 1);
  s.run(80);
  const auto& v = s.states().at(0).values;
  for (int64_t n = 0; n < 80; ++n) {
    const int64_t arrived = n < 7 ? 0 : std::min<int64_t>(20, (n - 7) / 3 + 1);
    EXPECT_NEAR(v[n], -70.0 + 2.0 * arrived, 1e-6) << "step " << n;
  }
}

Json poisson_network(int64_t seed, int64_t size, double rate, int64_t steps) {
  return {{"dt", 0.1},
          {"steps", steps},
          {"seed", seed},
          {"populations",
           {{{"name", "n"}, {"size", 50}, {"E_L", -70.0}, {"V_th", -55.0}, {"V_m", {{"uniform", {-70.0, -56.0}}}}}}},
          {"inputs", {{{"name", "p"}, {"type", "poisson"}, {"size", size}, {"rate", rate}}}},
          {"projections",
           {{{"source", "p"}, {"target", "n"}, {"connect", "fixed_probability"}, {"p", 0.2}, {"weight", 1.5},
             {"delay", 2}},
            {{"source", "n"}, {"target", "n"}, {"connect", "fixed_probability"}, {"p", 0.1}, {"weight", 0.5},
             {"delay", 5}}}},
          {"monitors", {{"spikes", {"p", "n"}}}}};
}

TEST(SimPoisson, RateWithinStatisticalBounds) {
  const int64_t size = 1000, steps = 5000;
  const double rate = 20.0;
  sim::Simulator<float> s(sim::parse_network(poisson_network(7, size, rate, steps)), 1);
  s.run(steps);
  const auto& rec = s.spikes("p");
  const double p = rate * 0.1 / 1000.0, expected = p * size * steps, sd = std::sqrt(expected * (1 - p));
  EXPECT_NEAR(static_cast<double>(rec.size()), expected, 5 * sd);
  // Every neuron fires (20 Hz over 0.5 s: ~10 spikes each), at most once per step.
  std::vector<int64_t> count(size, 0);
  for (size_t k = 0; k < rec.size(); ++k) {
    ++count[rec.neuron[k]];
    if (k) {
      ASSERT_TRUE(rec.step[k - 1] < rec.step[k] || (rec.step[k - 1] == rec.step[k] && rec.neuron[k - 1] < rec.neuron[k]));
    }
  }
  int64_t silent = 0;
  for (auto c : count) silent += c == 0;
  EXPECT_LT(silent, 5);  // P(silent) = (1 - p)^5000 = e^-10 per neuron
}

TEST(SimDeterminism, SameSeedSameSpikesForAnyThreadCount) {
  auto run = [](int64_t seed, int threads) {
    sim::Simulator<float> s(sim::parse_network(poisson_network(seed, 600, 40.0, 1500)), threads);
    s.run(700);
    s.run(800);  // two calls continue one run
    return std::make_pair(s.spikes("n").step, s.spikes("n").neuron);
  };
  auto a = run(3, 1), b = run(3, 1), c = run(3, 2), d = run(3, 3), e = run(4, 1);
  ASSERT_GT(a.first.size(), 100u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  EXPECT_EQ(a, d);
  EXPECT_NE(a, e);
}

TEST(SimPlasticity, PairStdpSignAndSize) {
  const double dt = 0.1;
  auto make = [] { return sim::csr_from_triplets<double>(1, 1, {0}, {0}, {0.5}, {1}); };
  sim::StdpOptions o;
  o.A_plus(0.01).A_minus(0.02).tau_plus(20).tau_minus(10).w_min(0).w_max(1);
  {  // pre at step 10, post at 60: potentiation by A_plus exp(-5 ms / tau_plus)
    auto c = make();
    sim::PairStdp<double> stdp(o);
    stdp.attach(c, dt);
    stdp.on_pre_spikes(10, {0}, c);
    stdp.on_post_spikes(60, {0}, c);
    EXPECT_NEAR(c.weight[0], 0.5 + 0.01 * std::exp(-5.0 / 20.0), 1e-12);
  }
  {  // post at 10, pre at 60: depression by A_minus exp(-5 ms / tau_minus)
    auto c = make();
    sim::PairStdp<double> stdp(o);
    stdp.attach(c, dt);
    stdp.on_post_spikes(10, {0}, c);
    stdp.on_pre_spikes(60, {0}, c);
    EXPECT_NEAR(c.weight[0], 0.5 - 0.02 * std::exp(-5.0 / 10.0), 1e-12);
  }
  {  // same step: no pairing; clipping at w_max
    auto c = make();
    sim::PairStdp<double> stdp(sim::StdpOptions(o).A_plus(10.0));
    stdp.attach(c, dt);
    stdp.on_pre_spikes(10, {0}, c);
    stdp.on_post_spikes(10, {0}, c);
    EXPECT_EQ(c.weight[0], 0.5);
    stdp.on_post_spikes(11, {0}, c);
    EXPECT_EQ(c.weight[0], 1.0);
  }
}

TEST(SimPlasticity, StdpFromJsonChangesWeightsInARun) {
  // Input neuron 0 fires 2 ms before the target (potentiated), input 1 fires 2 ms after (depressed).
  Json net = {{"dt", 0.1},
              {"steps", 200},
              {"populations", {{{"name", "n"}, {"size", 1}, {"E_L", -70.0}, {"V_th", -55.0}, {"t_ref", 0.0}}}},
              {"inputs",
               {{{"name", "drive"}, {"type", "spike_generator"}, {"size", 1}, {"spikes", {{0, 50}}}},
                {{"name", "probe"}, {"type", "spike_generator"}, {"size", 2}, {"spikes", {{0, 31}, {1, 71}}}}}},
              {"projections",
               {{{"source", "drive"}, {"target", "n"}, {"connect", "one_to_one"}, {"weight", 20.0}, {"delay", 0}},
                {{"source", "probe"},
                 {"target", "n"},
                 {"connect", "all_to_all"},
                 {"weight", 0.5},
                 {"delay", 1},
                 {"plasticity", {{"type", "stdp"}, {"A_plus", 0.1}, {"A_minus", 0.1}}}}}},
              {"monitors", {{"spikes", {"n"}}}}};
  sim::Simulator<double> s(sim::parse_network(net), 2);
  s.run(200);
  ASSERT_EQ(s.spikes("n").size(), 1u);
  EXPECT_EQ(s.spikes("n").step[0], 51);  // the drive lands after step 50's threshold
  const auto& w = s.projection(1).weight;
  EXPECT_GT(w[0], 0.5);
  EXPECT_LT(w[1], 0.5);
}

TEST(SimJson, BadNetworksNameTheFieldAndTheFix) {
  const Json good = poisson_network(1, 10, 5.0, 10);
  EXPECT_NO_THROW(sim::parse_network(good));
  Json j = good;
  j["populations"][0]["V_thr"] = -50;
  expect_error(j, {"V_thr", "V_th"});
  j = good;
  j["populations"][0].erase("size");
  expect_error(j, {"network.populations[0]", "size"});
  j = good;
  j["deliver_after_reset"] = "yes";
  expect_error(j, {"network.deliver_after_reset", "true or false"});
  j = good;
  j["projections"][0]["delay"] = -2;
  expect_error(j, {"network.projections[0].delay", "negative"});
  j = good;
  j["projections"][1]["target"] = "m";
  expect_error(j, {"network.projections[1].target", "'m'", "known: n, p"});
  j = good;
  j["projections"][0]["target"] = "p";
  expect_error(j, {"projections[0].target", "input"});
  j = good;
  j["populations"][0]["t_ref"] = 0.25;
  expect_error(j, {"t_ref", "multiple of dt"});
  j = good;
  j["stpes"] = 10;
  expect_error(j, {"stpes", "steps"});
  j = good;
  j.erase("dt");
  expect_error(j, {"dt"});
  j = good;
  j["inputs"][0]["type"] = "poison";
  expect_error(j, {"inputs[0].type", "poisson"});
  j = good;
  j["inputs"][0]["rate"] = 20000.0;
  expect_error(j, {"inputs[0].rate", "one spike per step"});
  j = good;
  j["monitors"]["spikes"] = {"q"};
  expect_error(j, {"monitors.spikes[0]", "'q'"});
  j = good;
  j["populations"][0]["tau_m"] = "ten";
  expect_error(j, {"tau_m", "number"});
  Json e = delay_network(1, 0, 10);
  e["projections"][0] = {{"source", "g"}, {"target", "n"}, {"connect", "explicit"}, {"pre", {0, 0}},
                         {"post", {0}}, {"weight", 1.0}};
  expect_error(e, {"'pre' has 2 entries but 'post' has 1"});
  e["projections"][0]["post"] = {0, 1};
  expect_error(e, {"projections[0].post[1]", "[0, 1)"});
  e = delay_network(1, 0, 10);
  e["inputs"][0]["spikes"] = {{0, 3}, {0, 3}};
  expect_error(e, {"spikes[1]", "already spikes at step 3"});
}

}  // namespace
