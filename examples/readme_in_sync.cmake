# Fails when the example shown in full in README.md is no longer a verbatim copy of its source.
# cmake -DREADME=<README.md> -DEXAMPLE=<examples/x.cpp> -P readme_in_sync.cmake
file(READ "${README}" readme)
file(READ "${EXAMPLE}" example)
string(FIND "${readme}" "${example}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md no longer shows ${EXAMPLE} verbatim: copy the file into it again")
endif()
