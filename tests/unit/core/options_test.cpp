#include <gtest/gtest.h>

#include "test_support.h"

#include "golgi/core/options.h"
#include "golgi/train/trainer.h"

namespace {

struct Demo {
  GOLGI_ARG(int64_t, count) = 3;
  GOLGI_ARG(double, rate) = 0.5;
  GOLGI_ARG(bool, flag) = false;
  GOLGI_ARG(std::string, mode) = "fast";
  GOLGI_ARG(std::vector<int64_t>, widths) = {4, 8};
  static const golgi::OptionSchema<Demo>& schema() {
    static const auto s = golgi::OptionSchema<Demo>("demo")
        .add("count", &Demo::count_, "how many", golgi::between<int64_t>(1, 10))
        .add("rate", &Demo::rate_, "a rate", golgi::Range<double>{0.0, 1.0, false, true})
        .add("flag", &Demo::flag_, "a flag")
        .add("mode", &Demo::mode_, "a mode", {"fast", "slow"})
        .add("widths", &Demo::widths_, "widths", golgi::at_least<int64_t>(1));
    return s;
  }
};

using golgi::testing::error_of;

TEST(Options, SettersChainAndDefaultsHold) {
  Demo d = Demo().count(5).rate(0.25);
  EXPECT_EQ(d.count(), 5);
  EXPECT_DOUBLE_EQ(d.rate(), 0.25);
  EXPECT_EQ(d.mode(), "fast");
}

TEST(Options, JsonRoundTrip) {
  Demo d;
  Demo::schema().apply(d, {{"count", 7}, {"mode", "slow"}, {"widths", {1, 2, 3}}, {"flag", true}});
  EXPECT_EQ(d.count(), 7);
  EXPECT_EQ(d.mode(), "slow");
  EXPECT_EQ(d.widths(), (std::vector<int64_t>{1, 2, 3}));
  auto j = Demo::schema().to_json(d);
  Demo e;
  Demo::schema().apply(e, j);
  EXPECT_EQ(Demo::schema().to_json(e), j);
}

TEST(Options, UnknownFieldSuggestsClosest) {
  Demo d;
  auto msg = error_of([&] { Demo::schema().apply(d, {{"cuont", 2}}); });
  EXPECT_NE(msg.find("unknown option 'cuont'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'count'"), std::string::npos) << msg;
}

TEST(Options, OutOfRangeNamesFieldAndRange) {
  Demo d;
  auto msg = error_of([&] { Demo::schema().apply(d, {{"count", 11}}); });
  EXPECT_NE(msg.find("demo.count"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1, 10]"), std::string::npos) << msg;
  msg = error_of([&] { Demo::schema().apply(d, {{"rate", 0.0}}); });
  EXPECT_NE(msg.find("(0, 1]"), std::string::npos) << msg;
  msg = error_of([&] { Demo::schema().apply(d, {{"mode", "medium"}}); });
  EXPECT_NE(msg.find("one of 'fast', 'slow'"), std::string::npos) << msg;
  msg = error_of([&] { Demo::schema().apply(d, {{"widths", {1, 0}}}); });
  EXPECT_NE(msg.find(">= 1"), std::string::npos) << msg;
}

TEST(Options, WrongTypesAreRejected) {
  Demo d;
  EXPECT_NE(error_of([&] { Demo::schema().apply(d, {{"count", "three"}}); }).find("must be an integer"), std::string::npos);
  EXPECT_NE(error_of([&] { Demo::schema().apply(d, {{"count", 2.5}}); }).find("must be an integer"), std::string::npos);
  EXPECT_NE(error_of([&] { Demo::schema().apply(d, {{"flag", 1}}); }).find("true or false"), std::string::npos);
  EXPECT_NE(error_of([&] { Demo::schema().apply(d, nlohmann::json::array()); }).find("JSON object"), std::string::npos);
}

TEST(Options, CommandLineStrings) {
  Demo d;
  Demo::schema().set_from_string(d, "count", "4");
  Demo::schema().set_from_string(d, "flag", "yes");
  Demo::schema().set_from_string(d, "widths", "3,5");
  Demo::schema().set_from_string(d, "rate", "1e-1");
  EXPECT_EQ(d.count(), 4);
  EXPECT_TRUE(d.flag());
  EXPECT_EQ(d.widths(), (std::vector<int64_t>{3, 5}));
  EXPECT_DOUBLE_EQ(d.rate(), 0.1);
  EXPECT_NE(error_of([&] { Demo::schema().set_from_string(d, "count", "4x"); }).find("'4x'"), std::string::npos);
  EXPECT_NE(error_of([&] { Demo::schema().set_from_string(d, "rate", "nan"); }).find("NaN"), std::string::npos);
}

TEST(Options, ValidateCatchesSetterValues) {
  Demo d = Demo().count(0);
  EXPECT_THROW(Demo::schema().validate(d), golgi::Error);
}

TEST(Options, TrainOptionsRejectBadValues) {
  using golgi::train::TrainOptions;
  TrainOptions o;
  EXPECT_THROW(TrainOptions::schema().apply(o, {{"lr", -1.0}}), golgi::Error);
  EXPECT_THROW(TrainOptions::schema().apply(o, {{"optimizer", "adamax"}}), golgi::Error);
  EXPECT_THROW(TrainOptions::schema().apply(o, {{"epochs", 0}}), golgi::Error);
  EXPECT_THROW(TrainOptions::schema().apply(o, {{"batchsize", 3}}), golgi::Error);
}

}  // namespace
