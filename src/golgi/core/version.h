#pragma once
namespace golgi {
inline constexpr const char* kVersion = "0.1.0";
}
