#include "RootNames.hxx"

#include <cctype>
#include <string>

namespace SOFIE {
namespace PyTorch {
namespace detail {

void AddRootNamespaceAlias(RModel &model)
{
   const std::string name = model.GetFilename(); // the name the namespace is made from
   for (unsigned char c : name)
      if (!std::isalnum(c) && c != '_')
         return;
   // The engine has no hook for code at namespace scope before its own namespace; the one
   // thing it writes there for us is the include line of a custom operator's header,
   //    #include "<entry>"
   // So the entry names a standard header (found from quotes too) and ends the line; the
   // alias lines follow, and a comment takes the engine's closing quote. The namespace is
   // declared (empty) first so that the alias can name it; the engine's definition that
   // follows adds the Session to it. The name is the engine's cleaned identifier.
   const std::string ns = "SOFIE_" + name;
   model.AddNeededCustomHeader("cstddef\"\n// ROOT's name for this namespace (TMVA_SOFIE_<model>), added by SOFIE-PyTorch\n"
                               "namespace " + ns + " {}\nnamespace TMVA_" + ns + " = " + ns + ";\n//");
}

} // namespace detail
} // namespace PyTorch
} // namespace SOFIE
