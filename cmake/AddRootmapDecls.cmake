# Appends a declaration to the "{ decls }" section of a rootmap file.
#
# ROOT reads these declarations at start-up and autoloads the library when a name
# they declare is used. rootcling writes declarations only for classes and namespaces,
# not for a namespace alias, so without this a macro that writes
# TMVA::Experimental::SOFIE::... would not autoload the plugin.
#
# Usage: cmake -DROOTMAP=<file> "-DDECL=<declaration>" -P AddRootmapDecls.cmake
file(READ "${ROOTMAP}" _content)
string(FIND "${_content}" "${DECL}" _found)
if(_found EQUAL -1)
  string(FIND "${_content}" "\n\n" _end)
  string(SUBSTRING "${_content}" 0 ${_end} _decls)
  string(SUBSTRING "${_content}" ${_end} -1 _rest)
  file(WRITE "${ROOTMAP}" "${_decls}\n${DECL}${_rest}")
endif()
