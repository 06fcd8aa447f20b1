#include "golgi/spiking/sim/network.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "golgi/core/strings.h"

namespace golgi::spiking::sim {

const OptionSchema<LifParams>& LifParams::schema() {
  static OptionSchema<LifParams> s =
      OptionSchema<LifParams>("lif")
          .add("V_th", &LifParams::V_th_, "spike threshold [mV]")
          .add("V_reset", &LifParams::V_reset_, "membrane potential after a spike [mV]")
          .add("E_L", &LifParams::E_L_, "resting potential [mV]")
          .add("tau_m", &LifParams::tau_m_, "membrane time constant [ms]", at_least(0.0, false))
          .add("t_ref", &LifParams::t_ref_, "refractory period [ms], a multiple of dt", at_least(0.0))
          .add("C_m", &LifParams::C_m_, "membrane capacitance [pF]", at_least(0.0, false))
          .add("I_e", &LifParams::I_e_, "constant external current [pA]");
  return s;
}

namespace {

// Rejects keys outside `allowed`, suggesting the closest one.
void check_keys(const Json& object, const std::string& where, const std::vector<std::string>& allowed) {
  GOLGI_CHECK(object.is_object(), where, " must be a JSON object, got ", object.type_name());
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool known = false;
    for (const auto& a : allowed) known = known || a == it.key();
    if (known) continue;
    std::string hint = did_you_mean(it.key(), allowed);
    GOLGI_FAIL("unknown field '", where, ".", it.key(), "'", hint.empty() ? "" : "; " + hint,
               " (accepted: ", join(allowed, ", "), ")");
  }
}

const Json& required(const Json& object, const std::string& key, const std::string& where, const std::string& fix) {
  auto it = object.find(key);
  GOLGI_CHECK(it != object.end(), where, " is missing the field '", key, "': ", fix);
  return *it;
}

double get_number(const Json& value, const std::string& where) {
  GOLGI_CHECK(value.is_number(), where, " must be a number, got ", value.dump());
  double v = value.get<double>();
  GOLGI_CHECK(std::isfinite(v), where, " must be finite, got ", v);
  return v;
}

int64_t get_int(const Json& value, const std::string& where) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    double d = value.get<double>();
    GOLGI_CHECK(std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15, where, " must be an integer, got ", d);
    return static_cast<int64_t>(d);
  }
  GOLGI_FAIL(where, " must be an integer, got ", value.dump());
}

std::string get_string(const Json& value, const std::string& where) {
  GOLGI_CHECK(value.is_string(), where, " must be a string, got ", value.dump());
  return value.get<std::string>();
}

const Json& get_array(const Json& value, const std::string& where) {
  GOLGI_CHECK(value.is_array(), where, " must be a list, got ", value.dump().substr(0, 80));
  return value;
}

std::string at(const std::string& where, size_t i) { return where + "[" + std::to_string(i) + "]"; }

void check_name(const std::string& name, const std::string& where, std::set<std::string>& seen) {
  GOLGI_CHECK(!name.empty(), where, ".name must not be empty");
  GOLGI_CHECK(seen.insert(name).second, where, ".name '", name,
              "' is used twice; population and input names must be unique");
}

int64_t check_size(const Json& object, const std::string& where) {
  int64_t size = get_int(required(object, "size", where, "give the number of neurons, e.g. \"size\": 100"),
                         where + ".size");
  GOLGI_CHECK(size >= 1 && size <= (int64_t{1} << 30), where, ".size must be in [1, 2^30], got ", size);
  return size;
}

PopulationSpec parse_population(const Json& j, const std::string& where, std::set<std::string>& names) {
  std::vector<std::string> allowed = {"name", "size", "model", "V_m"};
  for (const auto& f : LifParams::schema().names()) allowed.push_back(f);
  check_keys(j, where, allowed);
  PopulationSpec pop;
  pop.name = get_string(required(j, "name", where, "give the population a name, e.g. \"name\": \"exc\""),
                        where + ".name");
  check_name(pop.name, where, names);
  pop.size = check_size(j, where);
  if (j.contains("model")) {
    std::string model = get_string(j["model"], where + ".model");
    GOLGI_CHECK(model == "lif", where, ".model must be 'lif' (the only neuron model so far), got '", model, "'");
  }
  Json params = Json::object();
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "name" && it.key() != "size" && it.key() != "model" && it.key() != "V_m")
      params[it.key()] = it.value();
  try {
    LifParams::schema().apply(pop.params, params);
  } catch (const Error& e) {
    GOLGI_FAIL(where, ": ", e.what());
  }
  pop.V_m_low = pop.V_m_high = pop.params.E_L();
  if (j.contains("V_m")) {
    const Json& v = j["V_m"];
    if (v.is_object()) {
      check_keys(v, where + ".V_m", {"uniform"});
      const Json& u = get_array(required(v, "uniform", where + ".V_m", "write {\"uniform\": [low, high]}"),
                                where + ".V_m.uniform");
      GOLGI_CHECK(u.size() == 2, where, ".V_m.uniform must be [low, high], got ", u.dump());
      pop.V_m_low = get_number(u[0], where + ".V_m.uniform[0]");
      pop.V_m_high = get_number(u[1], where + ".V_m.uniform[1]");
      GOLGI_CHECK(pop.V_m_low <= pop.V_m_high, where, ".V_m.uniform must have low <= high, got ", u.dump());
    } else if (v.is_array()) {
      GOLGI_CHECK(static_cast<int64_t>(v.size()) == pop.size, where, ".V_m lists ", v.size(),
                  " values but the population has ", pop.size, " neurons; give one per neuron, one number, or "
                  "{\"uniform\": [low, high]}");
      for (size_t i = 0; i < v.size(); ++i) pop.V_m_values.push_back(get_number(v[i], at(where + ".V_m", i)));
    } else {
      pop.V_m_low = pop.V_m_high = get_number(v, where + ".V_m");
    }
  }
  return pop;
}

InputSpec parse_input(const Json& j, const std::string& where, std::set<std::string>& names, double dt,
                      int64_t steps) {
  GOLGI_CHECK(j.is_object(), where, " must be a JSON object, got ", j.type_name());
  std::string type = get_string(required(j, "type", where, "say \"type\": \"poisson\" or \"spike_generator\""),
                                where + ".type");
  InputSpec in;
  if (type == "poisson") {
    check_keys(j, where, {"name", "type", "size", "rate"});
    in.kind = InputSpec::Kind::kPoisson;
  } else if (type == "spike_generator") {
    check_keys(j, where, {"name", "type", "size", "spikes"});
    in.kind = InputSpec::Kind::kGenerator;
  } else {
    GOLGI_FAIL(where, ".type must be 'poisson' or 'spike_generator', got '", type, "'");
  }
  in.name = get_string(required(j, "name", where, "give the input a name"), where + ".name");
  check_name(in.name, where, names);
  in.size = check_size(j, where);
  if (in.kind == InputSpec::Kind::kPoisson) {
    in.rate = get_number(required(j, "rate", where, "give the rate in Hz, e.g. \"rate\": 10"), where + ".rate");
    GOLGI_CHECK(in.rate >= 0 && in.rate * dt / 1000.0 <= 1.0, where, ".rate must be in [0, 1000/dt] = [0, ",
                1000.0 / dt, "] Hz (at most one spike per step), got ", in.rate);
    return in;
  }
  const Json& spikes = get_array(
      required(j, "spikes", where, "list the spikes as [[neuron, step], ...]"), where + ".spikes");
  std::set<std::pair<int64_t, int32_t>> seen;
  for (size_t i = 0; i < spikes.size(); ++i) {
    std::string w = at(where + ".spikes", i);
    GOLGI_CHECK(spikes[i].is_array() && spikes[i].size() == 2, w, " must be [neuron, step], got ", spikes[i].dump());
    int64_t neuron = get_int(spikes[i][0], w + "[0]");
    int64_t step = get_int(spikes[i][1], w + "[1]");
    GOLGI_CHECK(neuron >= 0 && neuron < in.size, w, " neuron must be in [0, ", in.size, "), got ", neuron);
    GOLGI_CHECK(step >= 0, w, " step must be >= 0, got ", step);
    GOLGI_CHECK(seen.insert({step, static_cast<int32_t>(neuron)}).second, w, ": neuron ", neuron,
                " already spikes at step ", step, "; a neuron spikes at most once per step");
    in.spike_neuron.push_back(static_cast<int32_t>(neuron));
    in.spike_step.push_back(step);
  }
  (void)steps;
  return in;
}

void check_delay(int64_t delay, const std::string& where) {
  GOLGI_CHECK(delay >= 0 && delay <= 65535, where, " must be a whole number of steps in [0, 65535], got ", delay,
              delay < 0 ? " (delays cannot be negative)" : "");
}

ProjectionSpec parse_projection(const Json& j, const std::string& where, const NetworkSpec& net) {
  GOLGI_CHECK(j.is_object(), where, " must be a JSON object, got ", j.type_name());
  ProjectionSpec pr;
  std::string connect = get_string(
      required(j, "connect", where,
               "say \"connect\": \"one_to_one\", \"all_to_all\", \"fixed_probability\" or \"explicit\""),
      where + ".connect");
  std::vector<std::string> allowed = {"source", "target", "connect", "weight", "delay", "plasticity"};
  if (connect == "one_to_one") {
    pr.connect = ProjectionSpec::Connect::kOneToOne;
  } else if (connect == "all_to_all") {
    pr.connect = ProjectionSpec::Connect::kAllToAll;
    allowed.push_back("autapses");
  } else if (connect == "fixed_probability") {
    pr.connect = ProjectionSpec::Connect::kFixedProbability;
    allowed.insert(allowed.end(), {"p", "autapses"});
  } else if (connect == "explicit") {
    pr.connect = ProjectionSpec::Connect::kExplicit;
    allowed.insert(allowed.end(), {"pre", "post"});
  } else {
    GOLGI_FAIL(where, ".connect must be one of 'one_to_one', 'all_to_all', 'fixed_probability', 'explicit', got '",
               connect, "'");
  }
  check_keys(j, where, allowed);
  pr.source = get_string(required(j, "source", where, "name the presynaptic population or input"), where + ".source");
  pr.target = get_string(required(j, "target", where, "name the postsynaptic LIF population"), where + ".target");
  int64_t src = net.source_index(pr.source, where + ".source");
  int64_t tgt = net.source_index(pr.target, where + ".target");
  GOLGI_CHECK(tgt < static_cast<int64_t>(net.populations.size()), where, ".target '", pr.target,
              "' is an input; a projection must target a LIF population");
  int64_t n_pre = net.size_of(src), n_post = net.size_of(tgt);
  if (pr.connect == ProjectionSpec::Connect::kOneToOne)
    GOLGI_CHECK(n_pre == n_post, where, ": one_to_one needs equal sizes, but '", pr.source, "' has ", n_pre,
                " neurons and '", pr.target, "' has ", n_post);
  if (j.contains("autapses")) {
    GOLGI_CHECK(j["autapses"].is_boolean(), where, ".autapses must be true or false, got ", j["autapses"].dump());
    pr.autapses = j["autapses"].get<bool>();
  }
  if (pr.connect == ProjectionSpec::Connect::kFixedProbability) {
    pr.p = get_number(required(j, "p", where, "give the connection probability, e.g. \"p\": 0.01"), where + ".p");
    GOLGI_CHECK(pr.p >= 0 && pr.p <= 1, where, ".p must be in [0, 1], got ", pr.p);
  }
  const Json& weight = required(j, "weight", where, "give the weight in mV, e.g. \"weight\": 0.5");
  const Json* delay = j.contains("delay") ? &j["delay"] : nullptr;
  if (pr.connect != ProjectionSpec::Connect::kExplicit) {
    pr.weight = get_number(weight, where + ".weight");
    if (delay) pr.delay = get_int(*delay, where + ".delay");
    check_delay(pr.delay, where + ".delay");
  } else {
    const Json& pre = get_array(required(j, "pre", where, "list the presynaptic indices"), where + ".pre");
    const Json& post = get_array(required(j, "post", where, "list the postsynaptic indices"), where + ".post");
    GOLGI_CHECK(pre.size() == post.size(), where, ": 'pre' has ", pre.size(), " entries but 'post' has ",
                post.size(), "; give one (pre, post) pair per synapse");
    size_t n = pre.size();
    for (size_t i = 0; i < n; ++i) {
      int64_t a = get_int(pre[i], at(where + ".pre", i)), b = get_int(post[i], at(where + ".post", i));
      GOLGI_CHECK(a >= 0 && a < n_pre, at(where + ".pre", i), " must be in [0, ", n_pre, ") (size of '", pr.source,
                  "'), got ", a);
      GOLGI_CHECK(b >= 0 && b < n_post, at(where + ".post", i), " must be in [0, ", n_post, ") (size of '",
                  pr.target, "'), got ", b);
      pr.pre.push_back(static_cast<int32_t>(a));
      pr.post.push_back(static_cast<int32_t>(b));
    }
    if (weight.is_array()) {
      GOLGI_CHECK(weight.size() == n, where, ".weight has ", weight.size(), " entries but there are ", n,
                  " synapses; give one weight per synapse or a single number");
      for (size_t i = 0; i < n; ++i) pr.weights.push_back(get_number(weight[i], at(where + ".weight", i)));
    } else {
      pr.weights.assign(n, get_number(weight, where + ".weight"));
    }
    if (delay && delay->is_array()) {
      GOLGI_CHECK(delay->size() == n, where, ".delay has ", delay->size(), " entries but there are ", n,
                  " synapses; give one delay per synapse or a single number");
      for (size_t i = 0; i < n; ++i) {
        pr.delays.push_back(get_int((*delay)[i], at(where + ".delay", i)));
        check_delay(pr.delays.back(), at(where + ".delay", i));
      }
    } else {
      int64_t d = delay ? get_int(*delay, where + ".delay") : 1;
      check_delay(d, where + ".delay");
      pr.delays.assign(n, d);
    }
  }
  if (j.contains("plasticity")) {
    const Json& pl = j["plasticity"];
    GOLGI_CHECK(pl.is_object(), where, ".plasticity must be an object like {\"type\": \"stdp\", ...}, got ", pl.dump());
    pr.plasticity = get_string(required(pl, "type", where + ".plasticity", "say \"type\": \"stdp\""),
                               where + ".plasticity.type");
    GOLGI_CHECK(pr.plasticity == "stdp", where, ".plasticity.type must be 'stdp', got '", pr.plasticity, "'");
    pr.plasticity_options = pl;
    pr.plasticity_options.erase("type");
  }
  return pr;
}

}  // namespace

int64_t NetworkSpec::source_index(const std::string& name, const std::string& where) const {
  std::vector<std::string> names;
  for (size_t i = 0; i < populations.size(); ++i) {
    if (populations[i].name == name) return static_cast<int64_t>(i);
    names.push_back(populations[i].name);
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].name == name) return static_cast<int64_t>(populations.size() + i);
    names.push_back(inputs[i].name);
  }
  std::string hint = did_you_mean(name, names);
  GOLGI_FAIL(where, " names '", name, "', which is no population or input", hint.empty() ? "" : "; " + hint,
             " (known: ", names.empty() ? std::string("none") : join(names, ", "), ")");
}

int64_t NetworkSpec::size_of(int64_t index) const {
  const auto n_pop = static_cast<int64_t>(populations.size());
  return index < n_pop ? populations[index].size : inputs[index - n_pop].size;
}

int64_t refractory_steps(const LifParams& params, double dt, const std::string& where) {
  double ratio = params.t_ref() / dt;
  double rounded = std::round(ratio);
  GOLGI_CHECK(std::fabs(ratio - rounded) <= 1e-6 * std::max(1.0, ratio), where, ".t_ref = ", params.t_ref(),
              " ms is not a multiple of dt = ", dt, " ms; use a multiple such as ", rounded * dt, " ms");
  return static_cast<int64_t>(rounded);
}

NetworkSpec parse_network(const Json& json) {
  const std::string w = "network";
  check_keys(json, w, {"dt", "steps", "seed", "deliver_after_reset", "populations", "inputs", "projections", "monitors"});
  NetworkSpec net;
  net.dt = get_number(required(json, "dt", w, "give the time step in ms, e.g. \"dt\": 0.1"), w + ".dt");
  GOLGI_CHECK(net.dt > 0, w, ".dt must be > 0 ms, got ", net.dt);
  if (json.contains("steps")) net.steps = get_int(json["steps"], w + ".steps");
  GOLGI_CHECK(net.steps >= 0, w, ".steps must be >= 0, got ", net.steps);
  if (json.contains("seed")) {
    int64_t seed = get_int(json["seed"], w + ".seed");
    GOLGI_CHECK(seed >= 0, w, ".seed must be >= 0, got ", seed);
    net.seed = static_cast<uint64_t>(seed);
  }
  if (json.contains("deliver_after_reset")) {
    GOLGI_CHECK(json["deliver_after_reset"].is_boolean(), w, ".deliver_after_reset must be true or false, got ",
                json["deliver_after_reset"].dump());
    net.deliver_after_reset = json["deliver_after_reset"].get<bool>();
  }
  std::set<std::string> names;
  const Json& pops = get_array(required(json, "populations", w, "list at least one LIF population"),
                               w + ".populations");
  GOLGI_CHECK(!pops.empty(), w, ".populations must list at least one LIF population");
  for (size_t i = 0; i < pops.size(); ++i) {
    net.populations.push_back(parse_population(pops[i], at(w + ".populations", i), names));
    refractory_steps(net.populations.back().params, net.dt, at(w + ".populations", i));
  }
  if (json.contains("inputs")) {
    const Json& inputs = get_array(json["inputs"], w + ".inputs");
    for (size_t i = 0; i < inputs.size(); ++i)
      net.inputs.push_back(parse_input(inputs[i], at(w + ".inputs", i), names, net.dt, net.steps));
  }
  if (json.contains("projections")) {
    const Json& prs = get_array(json["projections"], w + ".projections");
    for (size_t i = 0; i < prs.size(); ++i)
      net.projections.push_back(parse_projection(prs[i], at(w + ".projections", i), net));
  }
  if (json.contains("monitors")) {
    const Json& m = json["monitors"];
    check_keys(m, w + ".monitors", {"spikes", "state"});
    if (m.contains("spikes")) {
      const Json& s = get_array(m["spikes"], w + ".monitors.spikes");
      for (size_t i = 0; i < s.size(); ++i) {
        std::string name = get_string(s[i], at(w + ".monitors.spikes", i));
        net.source_index(name, at(w + ".monitors.spikes", i));
        net.spike_monitors.push_back(name);
      }
    }
    if (m.contains("state")) {
      const Json& s = get_array(m["state"], w + ".monitors.state");
      for (size_t i = 0; i < s.size(); ++i) {
        std::string where = at(w + ".monitors.state", i);
        check_keys(s[i], where, {"population", "neurons", "variable"});
        StateMonitorSpec sm;
        sm.population = get_string(required(s[i], "population", where, "name a LIF population"), where + ".population");
        int64_t index = net.source_index(sm.population, where + ".population");
        GOLGI_CHECK(index < static_cast<int64_t>(net.populations.size()), where, ".population '", sm.population,
                    "' is an input; state monitors record V_m of LIF populations");
        if (s[i].contains("variable")) {
          std::string var = get_string(s[i]["variable"], where + ".variable");
          GOLGI_CHECK(var == "V_m", where, ".variable must be 'V_m' (the only recordable so far), got '", var, "'");
        }
        const Json& ns = get_array(required(s[i], "neurons", where, "list the neuron indices to record"),
                                   where + ".neurons");
        for (size_t k = 0; k < ns.size(); ++k) {
          int64_t n = get_int(ns[k], at(where + ".neurons", k));
          GOLGI_CHECK(n >= 0 && n < net.populations[index].size, at(where + ".neurons", k), " must be in [0, ",
                      net.populations[index].size, "), got ", n);
          sm.neurons.push_back(static_cast<int32_t>(n));
        }
        net.state_monitors.push_back(sm);
      }
    }
  }
  return net;
}

NetworkSpec read_network_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  GOLGI_CHECK(in.good(), "cannot open network file '", path, "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  Json json;
  try {
    json = Json::parse(buffer.str());
  } catch (const Json::parse_error& e) {
    GOLGI_FAIL("network file '", path, "' is not valid JSON: ", e.what());
  }
  try {
    return parse_network(json);
  } catch (const Error& e) {
    GOLGI_FAIL(path, ": ", e.what());
  }
}

}  // namespace golgi::spiking::sim
