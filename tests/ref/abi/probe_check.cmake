# cmake -P probe_check.cmake -DCHECK=<rdv_exports.cmake> -DLIB=<probe .so>
#   -DDECLARED=<declared.txt> -DNM=<nm>
# The abi check run on the probe library must fail and name each thing
# the probe breaks, and nothing it does not.
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND ${CMAKE_COMMAND} -DMODE=check -DLIB=${LIB}
  -DDECLARED=${DECLARED} -DNM=${NM} -P ${CHECK}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
message(STATUS "the check said:\n${out}")
set(bad "")
if(rc EQUAL 0)
  list(APPEND bad "it passed")
endif()
foreach(want
    "extra: rdv_probe_extra "
    "missing: rdv_probe_missing "
    "unversioned .*: rdv_probe_declared, rdv_probe_picker")
  if(NOT out MATCHES "${want}")
    list(APPEND bad "it did not say \"${want}\"")
  endif()
endforeach()
foreach(never "rdv_probe_inline" "missing: rdv_probe_picker" "missing: rdv_probe_declared")
  if(out MATCHES "${never}")
    list(APPEND bad "it said \"${never}\"")
  endif()
endforeach()
if(bad)
  list(JOIN bad "; " text)
  message(FATAL_ERROR "the abi check on the probe library: ${text}")
endif()
