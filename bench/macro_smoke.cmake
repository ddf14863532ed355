# ctest bench_macro_smoke: runs bench/macro_mdd_load.sh,
# bench/macro_latency.sh and bench/macro_kmf.sh with --smoke against the
# programs of this build and checks that they exit 0 and write JSON with
# the expected members. No figure is asserted: the CI machines are shared.
# Usage: cmake -DROOT=src -DBIN=build -DOUT_DIR=dir -P macro_smoke.cmake
file(REMOVE_RECURSE ${OUT_DIR})
file(MAKE_DIRECTORY ${OUT_DIR})
foreach(pair "macro_mdd_load;steps" "macro_latency;rows" "macro_kmf;rounds")
  list(GET pair 0 name)
  list(GET pair 1 member)
  execute_process(COMMAND bash ${ROOT}/bench/${name}.sh --smoke --bin ${BIN} --out ${OUT_DIR}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}.sh --smoke exited ${rc}\n${out}\n${err}")
  endif()
  set(json ${OUT_DIR}/${name}.json)
  if(NOT EXISTS ${json})
    message(FATAL_ERROR "${name}.sh wrote no ${json}\n${out}\n${err}")
  endif()
  file(READ ${json} text)
  string(JSON n ERROR_VARIABLE jerr LENGTH "${text}" ${member})
  if(jerr OR n EQUAL 0)
    message(FATAL_ERROR "${name}: invalid JSON or no ${member} in ${json}: ${jerr}\n${out}")
  endif()
  message(STATUS "${name}: ${n} ${member}\n${out}")
endforeach()
