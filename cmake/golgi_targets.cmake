# Helpers shared by every golgi target.
#
# LibTorch's headers cost ~20 s per translation unit on the 2-core machine, so every target that
# includes them reuses one precompiled header (golgi_pch) instead of parsing them again.

function(golgi_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

add_library(golgi_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/pch_anchor.cpp)
target_link_libraries(golgi_pch PUBLIC ${TORCH_LIBRARIES} nlohmann_json::nlohmann_json fmt::fmt)
target_include_directories(golgi_pch PUBLIC ${TORCH_INCLUDE_DIRS})
golgi_warnings(golgi_pch)
target_precompile_headers(golgi_pch PUBLIC
  <torch/torch.h> <nlohmann/json.hpp> <fmt/format.h>
  <string> <vector> <map> <unordered_map> <memory> <functional> <optional>)


# golgi_library(NAME SOURCES... DEPS ...): one library per area, sharing the PCH.
function(golgi_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} ${TORCH_LIBRARIES}
    nlohmann_json::nlohmann_json fmt::fmt Threads::Threads)
  target_include_directories(${name} SYSTEM PUBLIC ${TORCH_INCLUDE_DIRS})
  target_precompile_headers(${name} REUSE_FROM golgi_pch)
  golgi_warnings(${name})
endfunction()
