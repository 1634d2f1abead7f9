// Where cling finds this library's headers when it is installed from a wheel.
//
// root.exe and PyROOT read the dictionary of libSofiePyTorch from its headers. A build
// tree's dictionary names the source directories; an installed package (pip install .)
// carries its headers in sofie_pytorch/include, next to sofie_pytorch/lib, at a place
// known only once installed. So when the library is loaded into a process that runs ROOT's
// interpreter (autoloaded from the rootmap, or by gSystem->Load), it adds that directory,
// and first the <span> shim (compat/), to the interpreter's include path. A compiled
// program that does not use ROOT's interpreter is left alone (gCling is null there).
#include "TInterpreter.h"

#include <dlfcn.h>
#include <string>
#include <sys/stat.h>

namespace {

void Marker() {}

bool Exists(const std::string &path)
{
   struct stat st {};
   return ::stat(path.c_str(), &st) == 0;
}

struct AddInstalledHeaders {
   AddInstalledHeaders()
   {
      Dl_info info{};
      if (!::gCling || ::dladdr(reinterpret_cast<void *>(&Marker), &info) == 0 || !info.dli_fname)
         return;
      std::string dir = info.dli_fname;
      dir.resize(dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/'));
      const std::string include = dir + "/../include";
      if (!Exists(include + "/TMVA/RModelParser_PyTorch.h"))
         return; // a build tree: the dictionary knows its headers
      ::gCling->AddIncludePath((include + "/compat").c_str());
      ::gCling->AddIncludePath(include.c_str());
   }
};

// Runs when the library is loaded, before its dictionary's headers are first parsed.
const AddInstalledHeaders gAddInstalledHeaders;

} // namespace
