// dvs-textures: the event rule (polarity, threshold, reference reset), determinism given the seed,
// the label layout, motion direction recoverable from the events, and option validation.
#include <gtest/gtest.h>

#include <cmath>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/data/dvs_textures.h"
#include "golgi/data/registry.h"

namespace {

using golgi::data::DvsTextureOptions;

DvsTextureOptions small() {
  return DvsTextureOptions().height(16).width(16).steps(24).segment_steps(8).texture_size(32);
}

// log intensity frames [K, 1, 1] from a list of values.
at::Tensor frames_of(const std::vector<double>& values) {
  return torch::tensor(values, torch::kFloat64).view({static_cast<int64_t>(values.size()), 1, 1});
}

TEST(DvsTextures, EventPolarityAndThreshold) {
  // Brightening by 0.5 with threshold 0.3: ON; darkening back: OFF; a change of 0.1: nothing.
  at::Tensor e = golgi::data::dvs_events(frames_of({0.0, 0.5, 0.0, 0.1}), 0.3);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{3, 2, 1, 1}));
  EXPECT_EQ(e[0][0].item<float>(), 1.0f);  // ON
  EXPECT_EQ(e[0][1].item<float>(), 0.0f);
  EXPECT_EQ(e[1][0].item<float>(), 0.0f);
  EXPECT_EQ(e[1][1].item<float>(), 1.0f);  // OFF
  EXPECT_EQ(e[2].sum().item<float>(), 0.0f);
}

TEST(DvsTextures, ReferenceIsResetAtEachEvent) {
  // Two rises of 0.2 (threshold 0.3): the second crosses (0.4 since the reference), then the
  // reference is 0.4, so a further 0.2 rise (0.6) stays silent and a fall to 0.05 is OFF.
  at::Tensor e = golgi::data::dvs_events(frames_of({0.0, 0.2, 0.4, 0.6, 0.05}), 0.3);
  EXPECT_EQ(e.select(1, 0).flatten().sum().item<float>(), 1.0f);
  EXPECT_EQ(e[1][0].item<float>(), 1.0f);
  EXPECT_EQ(e[2].sum().item<float>(), 0.0f);
  EXPECT_EQ(e[3][1].item<float>(), 1.0f);
}

TEST(DvsTextures, MovingBrightEdgeGivesOnEventsAtIncreasingX) {
  // A bright region whose left edge moves right by 1 pixel per step over a dark background: the
  // pixels it reaches brighten (ON), one column further right each step, and nothing darkens.
  const int64_t T = 8, W = 16;
  at::Tensor L = torch::zeros({T + 1, 3, W}, torch::kFloat64);
  for (int64_t t = 0; t <= T; ++t)
    for (int64_t x = 0; x < W; ++x) L[t].select(1, x).fill_(x < 4 + t ? 1.0 : 0.0);
  at::Tensor e = golgi::data::dvs_events(L, 0.5);
  EXPECT_EQ(e.select(1, 1).sum().item<float>(), 0.0f);
  double previous = -1;
  for (int64_t t = 0; t < T; ++t) {
    at::Tensor on = e[t][0].sum(0);  // [W]
    ASSERT_EQ(on.sum().item<float>(), 3.0f) << "step " << t;
    const double x = (on * torch::arange(W, torch::kFloat32)).sum().item<double>() / 3.0;
    EXPECT_EQ(x, static_cast<double>(4 + t));
    EXPECT_GT(x, previous);
    previous = x;
  }
}

TEST(DvsTextures, DeterministicGivenTheSeed) {
  auto a = golgi::data::generate_dvs_textures(3, small());
  auto b = golgi::data::generate_dvs_textures(3, small());
  EXPECT_TRUE(torch::equal(a.events, b.events));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  // Stream i does not depend on how many streams are generated.
  auto prefix = golgi::data::generate_dvs_textures(2, small());
  EXPECT_TRUE(torch::equal(prefix.events, a.events.narrow(0, 0, 2)));
  auto other = golgi::data::generate_dvs_textures(3, small().seed(1));
  EXPECT_FALSE(torch::equal(other.events, a.events));
  EXPECT_TRUE(a.events.eq(0).logical_or(a.events.eq(1)).all().item<bool>());
  // ON and OFF never both fire at one pixel and step.
  EXPECT_EQ(a.events.sum(2).max().item<float>(), 1.0f);
  EXPECT_GT(a.events.mean().item<double>(), 0.01);
}

TEST(DvsTextures, LabelLayout) {
  auto d = golgi::data::generate_dvs_textures(4, small());
  ASSERT_EQ(d.events.sizes(), (std::vector<int64_t>{4, 24, 2, 16, 16}));
  ASSERT_EQ(d.labels.sizes(), (std::vector<int64_t>{4, 24}));
  ASSERT_EQ(d.class_names.size(), 16u);
  EXPECT_EQ(d.class_names[0], "dir0_v0.50");
  EXPECT_EQ(d.class_names[9], "dir1_v1.00");
  auto y = d.labels.accessor<int64_t, 2>();
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t t = 0; t < 24; ++t) {
      EXPECT_GE(y[i][t], 0);
      EXPECT_LT(y[i][t], 16);
      if (t > 0 && t % 8 != 0) {
        EXPECT_EQ(y[i][t], y[i][t - 1]) << "within a segment";
      }
      if (t > 0 && t % 8 == 0) {
        EXPECT_NE(y[i][t], y[i][t - 1]) << "at a segment boundary";
      }
    }
  const auto card = d.card();
  EXPECT_EQ(card["classes"].size(), 16u);
  EXPECT_EQ(card["generator"]["seed"], 0);
}

TEST(DvsTextures, ClassVelocities) {
  const auto o = DvsTextureOptions();
  auto v = golgi::data::dvs_class_velocity(0, o);  // right, slow
  EXPECT_DOUBLE_EQ(v.first, 0.5);
  EXPECT_DOUBLE_EQ(v.second, 0.0);
  v = golgi::data::dvs_class_velocity(2, o);  // down (+y), slow
  EXPECT_DOUBLE_EQ(v.first, 0.0);
  EXPECT_DOUBLE_EQ(v.second, 0.5);
  v = golgi::data::dvs_class_velocity(12, o);  // left, fast
  EXPECT_DOUBLE_EQ(v.first, -1.0);
  EXPECT_DOUBLE_EQ(v.second, 0.0);
  v = golgi::data::dvs_class_velocity(1, o);
  EXPECT_NEAR(v.first, 0.5 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(v.second, 0.5 / std::sqrt(2.0), 1e-12);
  EXPECT_THROW(golgi::data::dvs_class_velocity(16, o), golgi::Error);
}

TEST(DvsTextures, TextureAndExactShift) {
  at::Tensor tex = golgi::data::texture_1f(32, 1.0, 7, 0.15, 1.0);
  EXPECT_NEAR(tex.mean().item<double>(), 0.0, 1e-9);
  EXPECT_NEAR(tex.std(/*unbiased=*/false).item<double>(), 1.0, 1e-9);
  EXPECT_TRUE(torch::equal(tex, golgi::data::texture_1f(32, 1.0, 7, 0.15, 1.0)));
  // An integer shift (3 right, 2 down) is a periodic roll: frame(x, y) = texture(x - 3, y - 2).
  at::Tensor f = golgi::data::shifted_frames(tex, torch::tensor({{3.0, 2.0}}, torch::kFloat64), 32, 32);
  at::Tensor rolled = torch::roll(tex, {2, 3}, {0, 1});
  EXPECT_LT((f[0] - rolled).abs().max().item<double>(), 1e-9);
}

// The displacement (dx, dy) in [-r, r]^2 that best aligns the signed event frames (ON - OFF) at
// steps t and t + lag, summed over the steps of one segment.
std::pair<int64_t, int64_t> best_shift(const at::Tensor& events, int64_t t0, int64_t t1, int64_t lag, int64_t r) {
  const int64_t H = events.size(2), W = events.size(3);
  double best = -1e300;
  std::pair<int64_t, int64_t> arg{0, 0};
  at::Tensor s = (events.select(1, 0) - events.select(1, 1)).to(torch::kFloat64);  // [T, H, W]
  for (int64_t dy = -r; dy <= r; ++dy)
    for (int64_t dx = -r; dx <= r; ++dx) {
      // a(x, y) at step t against b(x + dx, y + dy) at step t + lag over the overlap.
      const int64_t y0 = std::max<int64_t>(0, -dy), y1 = std::min(H, H - dy);
      const int64_t x0 = std::max<int64_t>(0, -dx), x1 = std::min(W, W - dx);
      at::Tensor a = s.slice(0, t0, t1 - lag).slice(1, y0, y1).slice(2, x0, x1);
      at::Tensor b = s.slice(0, t0 + lag, t1).slice(1, y0 + dy, y1 + dy).slice(2, x0 + dx, x1 + dx);
      const double score = (a * b).sum().item<double>() / static_cast<double>((y1 - y0) * (x1 - x0));
      if (score > best) {
        best = score;
        arg = {dx, dy};
      }
    }
  return arg;
}

TEST(DvsTextures, MotionDirectionIsRecoverable) {
  auto o = DvsTextureOptions().height(24).width(24).steps(96).segment_steps(32).texture_size(48);
  auto d = golgi::data::generate_dvs_textures(4, o);
  const int64_t lag = 4;
  int64_t segments = 0;
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t t0 = 0; t0 < 96; t0 += 32) {
      const int64_t c = d.labels[i][t0].item<int64_t>();
      const auto [vx, vy] = golgi::data::dvs_class_velocity(c, o);
      const auto [dx, dy] = best_shift(d.events[i], t0, t0 + 32, lag, 6);
      EXPECT_NEAR(static_cast<double>(dx), vx * lag, 1.0) << "stream " << i << " class " << d.class_names[c];
      EXPECT_NEAR(static_cast<double>(dy), vy * lag, 1.0) << "stream " << i << " class " << d.class_names[c];
      ++segments;
    }
  EXPECT_EQ(segments, 12);
}

TEST(DvsTextures, OptionValidation) {
  EXPECT_THROW(golgi::data::generate_dvs_textures(0, small()), golgi::Error);
  EXPECT_THROW(golgi::data::generate_dvs_textures(1, small().height(64)), golgi::Error);  // > texture_size
  EXPECT_THROW(golgi::data::generate_dvs_textures(1, small().threshold(0.0)), golgi::Error);
  EXPECT_THROW(golgi::data::generate_dvs_textures(1, small().min_speed(2.0).max_speed(1.0)), golgi::Error);
  EXPECT_THROW(golgi::data::generate_dvs_textures(1, small().steps(0)), golgi::Error);
  EXPECT_THROW(golgi::data::generate_dvs_textures(1, small().peak_frequency(0.7)), golgi::Error);
  EXPECT_THROW(golgi::data::dvs_events(torch::zeros({1, 4, 4}), 0.1), golgi::Error);  // needs T + 1 >= 2
  EXPECT_THROW(golgi::data::dvs_events(torch::zeros({3, 4, 4}), -0.1), golgi::Error);
  DvsTextureOptions o;
  EXPECT_THROW(DvsTextureOptions::schema().apply(o, {{"hieght", 3}}), golgi::Error);
}

TEST(DvsTextures, RegisteredLoader) {
  golgi::data::DataOptions options;
  auto train = golgi::data::load_dataset("dvs-textures", options);
  EXPECT_EQ(train->size(), 128);
  EXPECT_EQ(train->sample_shape(), (std::vector<int64_t>{40, 2, 24, 24}));
  EXPECT_EQ(train->card()["classes"].size(), 16u);
  EXPECT_GE(train->targets().min().item<int64_t>(), 0);
  EXPECT_LT(train->targets().max().item<int64_t>(), 16);
  options.split = "test";
  auto test = golgi::data::load_dataset("dvs-textures", options);
  EXPECT_EQ(test->size(), 64);
  EXPECT_FALSE(torch::equal(test->inputs(), train->inputs().narrow(0, 0, 64)));
  options.split = "validation";
  EXPECT_THROW(golgi::data::load_dataset("dvs-textures", options), golgi::Error);
}

}  // namespace
