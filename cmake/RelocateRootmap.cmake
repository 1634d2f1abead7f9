# Writes a copy of a rootmap file whose library entry "[ FROM ]" reads "[ TO ]".
#
# Usage: cmake -DIN=<rootmap> -DOUT=<rootmap> -DFROM=<library> -DTO=<library> -P RelocateRootmap.cmake
file(READ "${IN}" _content)
string(REPLACE "[ ${FROM} ]" "[ ${TO} ]" _relocated "${_content}")
if(_relocated STREQUAL _content)
  message(FATAL_ERROR "${IN} has no library entry [ ${FROM} ]")
endif()
file(WRITE "${OUT}" "${_relocated}")
