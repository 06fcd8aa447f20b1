#include "golgi/hooks/intervention_set.h"

#include <cmath>
#include <filesystem>
#include <set>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"

namespace golgi::hooks {

namespace {

const char* op_name(InterventionSet::Op op) {
  switch (op) {
    case InterventionSet::Op::kZero: return "zero";
    case InterventionSet::Op::kSet: return "set";
    case InterventionSet::Op::kScale: return "scale";
    case InterventionSet::Op::kAdd: return "add";
  }
  return "?";
}

double parse_finite(const std::string& text, const std::string& what) {
  double value = 0;
  size_t used = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  GOLGI_CHECK(used == text.size() && !text.empty(), what, ": '", text, "' is not a number");
  GOLGI_CHECK(std::isfinite(value), what, ": the value must be finite, got ", text);
  return value;
}

at::Tensor vector_of(const Json& value, const std::string& base_dir, const std::string& where) {
  if (value.is_string()) {
    std::filesystem::path path = value.get<std::string>();
    if (path.is_relative()) path = std::filesystem::path(base_dir) / path;
    return io::load_npy(path.string()).to(torch::kFloat32);
  }
  GOLGI_CHECK(value.is_array() && !value.empty(), where, ": \"vector\" must be a list of numbers or an .npy path");
  std::vector<float> numbers;
  for (const auto& v : value) {
    GOLGI_CHECK(v.is_number(), where, ": \"vector\" must hold numbers only");
    numbers.push_back(v.get<float>());
  }
  return torch::tensor(numbers, torch::kFloat32);
}

}  // namespace

InterventionSet& InterventionSet::zero(const NeuronRef& ref) {
  items_.push_back({Op::kZero, ref, 0.0, {}});
  return *this;
}

InterventionSet& InterventionSet::set(const NeuronRef& ref, double value) {
  GOLGI_CHECK(std::isfinite(value), "set '", ref.str(), "': the value must be finite, got ", value);
  items_.push_back({Op::kSet, ref, value, {}});
  return *this;
}

InterventionSet& InterventionSet::scale(const NeuronRef& ref, double factor) {
  GOLGI_CHECK(std::isfinite(factor), "scale '", ref.str(), "': the factor must be finite, got ", factor);
  items_.push_back({Op::kScale, ref, factor, {}});
  return *this;
}

InterventionSet& InterventionSet::add(const std::string& hook, at::Tensor vector) {
  GOLGI_CHECK(vector.defined() && vector.is_floating_point(), "add on '", hook, "': the vector must be floating point");
  GOLGI_CHECK(torch::isfinite(vector).all().item<bool>(), "add on '", hook, "': the vector holds NaN or infinity");
  NeuronRef ref;
  ref.hook = hook;
  items_.push_back({Op::kAdd, ref, 0.0, vector.to(torch::kFloat32)});
  return *this;
}

InterventionSet& InterventionSet::zero_all(const std::string& hook, const std::vector<int64_t>& indices) {
  for (int64_t i : indices) {
    NeuronRef ref;
    ref.hook = hook;
    ref.index = i;
    zero(ref);
  }
  return *this;
}

InterventionSet& InterventionSet::extend(const InterventionSet& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
  return *this;
}

void InterventionSet::add_text(const std::string& op, const std::string& text) {
  const std::string flag = "--" + op;
  if (op == "zero") {
    zero(NeuronRef::parse(text));
    return;
  }
  const size_t eq = text.rfind('=');
  if (op == "add") {
    GOLGI_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < text.size(), flag,
                " expects HOOK=FILE.npy (e.g. blocks.2.hook_resid_post=direction.npy), got '", text, "'");
    add(text.substr(0, eq), io::load_npy(text.substr(eq + 1)).to(torch::kFloat32));
    return;
  }
  GOLGI_CHECK(op == "set" || op == "clamp" || op == "scale", "unknown intervention '", op,
              "' (expected zero, set, clamp, scale or add)");
  GOLGI_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < text.size(), flag,
              " expects REF=VALUE (e.g. blocks.2.mlp.hook_post:17=4.0), got '", text, "'");
  const NeuronRef ref = NeuronRef::parse(text.substr(0, eq));
  const double value = parse_finite(text.substr(eq + 1), flag + " '" + text + "'");
  if (op == "scale")
    scale(ref, value);
  else
    set(ref, value);
}

InterventionSet InterventionSet::from_json(const Json& doc, const std::string& base_dir) {
  GOLGI_CHECK(doc.is_object() && doc.contains("interventions") && doc["interventions"].is_array(),
              "an intervention file must be {\"interventions\": [{\"op\": ..., \"neuron\": ...}, ...]}");
  InterventionSet set;
  size_t i = 0;
  for (const auto& item : doc["interventions"]) {
    const std::string where = "intervention " + std::to_string(i++);
    GOLGI_CHECK(item.is_object() && item.contains("op") && item["op"].is_string(), where,
                ": needs \"op\" (zero, set, clamp, scale or add)");
    const std::string op = item["op"].get<std::string>();
    if (op == "add") {
      GOLGI_CHECK(item.contains("hook") && item["hook"].is_string() && item.contains("vector"), where,
                  ": \"add\" needs \"hook\" and \"vector\"");
      set.add(item["hook"].get<std::string>(), vector_of(item["vector"], base_dir, where));
      continue;
    }
    GOLGI_CHECK(item.contains("neuron") && item["neuron"].is_string(), where,
                ": needs \"neuron\" (e.g. \"blocks.0.mlp.hook_post:12\")");
    const NeuronRef ref = NeuronRef::parse(item["neuron"].get<std::string>());
    if (op == "zero") {
      set.zero(ref);
      continue;
    }
    GOLGI_CHECK(op == "set" || op == "clamp" || op == "scale", where, ": unknown op '", op,
                "' (expected zero, set, clamp, scale or add)");
    GOLGI_CHECK(item.contains("value") && item["value"].is_number(), where, ": \"", op, "\" needs a numeric \"value\"");
    const double value = item["value"].get<double>();
    if (op == "scale")
      set.scale(ref, value);
    else
      set.set(ref, value);
  }
  return set;
}

InterventionSet InterventionSet::from_json_file(const std::string& path) {
  const Json doc = io::read_json_file(path);
  return from_json(doc, std::filesystem::path(path).parent_path().string());
}

HookGuards InterventionSet::apply(const HookedModule& model) const {
  // Validate everything first, so a bad item leaves the model untouched.
  for (const auto& item : items_) {
    if (item.op == Op::kAdd)
      model.hook_point(item.ref.hook);
    else
      validate(item.ref, model);
  }
  HookGuards guards;
  size_t i = 0;
  while (i < items_.size()) {
    const Item& first = items_[i];
    if (first.op == Op::kAdd) {
      guards.push_back(add_to_hook(model, first.ref.hook, first.vector));
      ++i;
      continue;
    }
    if (!first.ref.position.empty()) {
      const Intervention kind = first.op == Op::kZero  ? Intervention::kZero
                                : first.op == Op::kSet ? Intervention::kSet
                                                       : Intervention::kScale;
      guards.push_back(intervene(model, first.ref, kind, first.value));
      ++i;
      continue;
    }
    // A run of same-kind, same-value, position-free items on one hook point: one hook. A repeated
    // neuron ends the run, so "scale twice" still multiplies twice.
    std::vector<int64_t> indices;
    std::set<int64_t> seen;
    size_t j = i;
    while (j < items_.size() && items_[j].op == first.op && items_[j].ref.hook == first.ref.hook &&
           items_[j].ref.position.empty() && items_[j].value == first.value && !seen.count(items_[j].ref.index)) {
      indices.push_back(items_[j].ref.index);
      seen.insert(items_[j].ref.index);
      ++j;
    }
    switch (first.op) {
      case Op::kZero: guards.push_back(zero_neurons(model, first.ref.hook, indices)); break;
      case Op::kSet: guards.push_back(set_neurons(model, first.ref.hook, indices, first.value)); break;
      case Op::kScale: guards.push_back(scale_neurons(model, first.ref.hook, indices, first.value)); break;
      case Op::kAdd: break;
    }
    i = j;
  }
  return guards;
}

Json InterventionSet::to_json() const {
  Json list = Json::array();
  for (const auto& item : items_) {
    Json j = {{"op", op_name(item.op)}};
    if (item.op == Op::kAdd) {
      j["hook"] = item.ref.hook;
      auto flat = item.vector.contiguous().view(-1);
      std::vector<float> values(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
      j["vector"] = values;
    } else {
      j["neuron"] = item.ref.str();
      if (item.op != Op::kZero) j["value"] = item.value;
    }
    list.push_back(j);
  }
  return {{"interventions", list}};
}

}  // namespace golgi::hooks
