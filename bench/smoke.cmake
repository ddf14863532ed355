# ctest bench_smoke: runs each micro benchmark with --smoke (about one
# second) and checks that it exits 0 and writes JSON that parses and has
# cases and ratios. No figure is asserted: the CI machines are shared.
# Usage: cmake -DBENCHES="a;b" -DOUT_DIR=dir -P smoke.cmake
file(MAKE_DIRECTORY ${OUT_DIR})
foreach(bin ${BENCHES})
  get_filename_component(name ${bin} NAME)
  set(json ${OUT_DIR}/${name}.json)
  file(REMOVE ${json})
  execute_process(COMMAND ${bin} --smoke --out ${json}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} --smoke exited ${rc}\n${out}\n${err}")
  endif()
  if(NOT EXISTS ${json})
    message(FATAL_ERROR "${name} wrote no ${json}")
  endif()
  file(READ ${json} text)
  # string(JSON) fails on anything that is not valid JSON.
  string(JSON bench ERROR_VARIABLE jerr GET "${text}" benchmark)
  if(jerr)
    message(FATAL_ERROR "${name}: invalid JSON in ${json}: ${jerr}")
  endif()
  string(JSON ncases LENGTH "${text}" cases)
  string(JSON nratios LENGTH "${text}" ratios)
  if(ncases EQUAL 0)
    message(FATAL_ERROR "${name}: no cases in ${json}")
  endif()
  message(STATUS "${name}: ${bench}, ${ncases} cases, ${nratios} ratios")
endforeach()
