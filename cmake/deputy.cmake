# Helpers shared by every folder's CMakeLists.txt.

# deputy_add_library(NAME SOURCES... [DEPS...]) is spelled out per folder;
# this file only holds the test helpers so each test is one line.

# deputy_add_test(NAME LABEL SOURCES... LIBS... [ENVIRONMENT...]
#                 [PROPERTIES...])
#   A GoogleTest binary registered with ctest under LABEL (unit,
#   integration). Test names are discovered after build, so
#   `ctest -R Property` selects single properties. PROPERTIES are extra
#   ctest properties for every discovered test, e.g.
#   PROPERTIES FIXTURES_REQUIRED my_server RESOURCE_LOCK my_server.
include(GoogleTest)
function(deputy_add_test name label)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;ENVIRONMENT;PROPERTIES" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock
                                        GTest::gtest_main)
  # One target per label ("unit_tests", "integration_tests"), so the
  # sanitizer build compiles only what it runs.
  if(NOT TARGET ${label}_tests)
    add_custom_target(${label}_tests)
  endif()
  add_dependencies(${label}_tests ${name})
  gtest_discover_tests(${name}
    PROPERTIES LABELS ${label} ENVIRONMENT "${T_ENVIRONMENT}" ${T_PROPERTIES}
    DISCOVERY_TIMEOUT 60)
endfunction()

# deputy_add_fuzzer(NAME SOURCE LIBS...) builds a libFuzzer target (clang
# only, DEPUTY_FUZZ=ON) and registers a ctest that replays its checked-in
# corpus in tests/fuzz/corpus/NAME, so every regression input runs in CI.
function(deputy_add_fuzzer name source)
  if(NOT DEPUTY_FUZZ)
    return()
  endif()
  add_executable(${name} ${source})
  if(NOT TARGET fuzzers)
    add_custom_target(fuzzers)
  endif()
  add_dependencies(fuzzers ${name})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${ARGN})
  set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
  add_test(NAME ${name}.corpus
           COMMAND ${PROJECT_SOURCE_DIR}/scripts/replay-corpus
                   $<TARGET_FILE:${name}> ${corpus})
  set_tests_properties(${name}.corpus PROPERTIES LABELS fuzz)
endfunction()
