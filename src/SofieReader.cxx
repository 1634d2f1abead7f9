// JIT-compiling generated code with cling, and the Reader that runs it.
#include "TMVA/RSofieReader_PyTorch.h"
#include "TMVA/WriteGenerated_PyTorch.h"
#include "SofiePyTorch/SlotSessions.hxx"

#include "TInterpreter.h"

#include <atomic>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

namespace fs = std::filesystem;

// The BLAS functions cling's copies of the generated code call, filled by
// BindBlasForCling. Exported with C linkage so that cling finds the table by name.
extern "C" {
void *sofie_pytorch_blas_table[4] = {nullptr, nullptr, nullptr, nullptr};
}

namespace SOFIE {
namespace PyTorch {

namespace {

constexpr const char *kBlasNames[] = {"sgemm_", "sgemv_", "saxpy_", "scopy_"};

// Definitions of the routines, declared as SOFIE's generated code declares them, that
// call through the table: whichever library exports the same names (torch does, with
// other semantics), the generated code reaches the one bound here.
constexpr const char *kForwarders = R"(
extern "C" void *sofie_pytorch_blas_table[4];
extern "C" void sgemm_(const char *a0, const char *a1, const int *a2, const int *a3, const int *a4,
                       const float *a5, const float *a6, const int *a7, const float *a8, const int *a9,
                       const float *a10, float *a11, const int *a12) {
   reinterpret_cast<void (*)(const char *, const char *, const int *, const int *, const int *, const float *,
                             const float *, const int *, const float *, const int *, const float *, float *,
                             const int *)>(sofie_pytorch_blas_table[0])(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9,
                                                                        a10, a11, a12);
}
extern "C" void sgemv_(const char *a0, const int *a1, const int *a2, const float *a3, const float *a4,
                       const int *a5, const float *a6, const int *a7, const float *a8, const float *a9,
                       const int *a10) {
   reinterpret_cast<void (*)(const char *, const int *, const int *, const float *, const float *, const int *,
                             const float *, const int *, const float *, const float *, const int *)>(
      sofie_pytorch_blas_table[1])(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10);
}
extern "C" void saxpy_(const int *a0, const float *a1, const float *a2, const int *a3, float *a4, const int *a5) {
   reinterpret_cast<void (*)(const int *, const float *, const float *, const int *, float *, const int *)>(
      sofie_pytorch_blas_table[2])(a0, a1, a2, a3, a4, a5);
}
extern "C" void scopy_(const int *a0, const float *a1, const int *a2, float *a3, const int *a4) {
   reinterpret_cast<void (*)(const int *, const float *, const int *, float *, const int *)>(
      sofie_pytorch_blas_table[3])(a0, a1, a2, a3, a4);
}
)";

[[noreturn]] void JitFail(const std::string &message)
{
   throw ParseError("JitError", message);
}

/// The C++ type infer() takes for an input of this element type.
std::string CxxType(ETensorType type)
{
   switch (type) {
   case ETensorType::INT64: return "int64_t";
   case ETensorType::FLOAT: return "float";
   default: JitFail("the Reader takes float and int64 inputs, not " + ConvertTypeToString(type));
   }
}

/// Glue compiled next to the generated code: a session factory and an infer() that takes
/// type-erased inputs and returns every output as float, whatever infer() returns.
std::string Glue(const std::string &ns, const std::vector<ETensorType> &types)
{
   std::ostringstream src;
   src << "namespace " << ns << " {\n"
       << "template <typename T> void sofie_pytorch_put(const std::vector<T> &v, std::vector<std::vector<float>> *o)"
       << " { o->emplace_back(v.begin(), v.end()); }\n"
       << "template <typename T> void sofie_pytorch_put(const std::vector<std::vector<T>> &v, "
          "std::vector<std::vector<float>> *o) { for (const auto &x : v) sofie_pytorch_put(x, o); }\n"
       << "template <typename... T> void sofie_pytorch_put(const std::tuple<T...> &t, "
          "std::vector<std::vector<float>> *o) { std::apply([o](const auto &...x) { (sofie_pytorch_put(x, o), ...); }, t); }\n"
       << "void *sofie_pytorch_new(const char *weights) { return new Session(weights); }\n"
       << "void sofie_pytorch_delete(void *s) { delete static_cast<Session *>(s); }\n"
       << "void sofie_pytorch_infer(void *s, const void *const *in, std::vector<std::vector<float>> *out) {\n"
       << "   sofie_pytorch_put(static_cast<Session *>(s)->infer(";
   for (size_t i = 0; i < types.size(); ++i)
      src << (i ? ", " : "") << "static_cast<const " << CxxType(types[i]) << " *>(in[" << i << "])";
   src << "), out);\n}\n}\n";
   return src.str();
}

template <typename F>
F Address(const std::string &expression)
{
   const auto address = gInterpreter->Calc(("(long)&" + expression).c_str());
   if (!address)
      JitFail("cling did not compile " + expression);
   return reinterpret_cast<F>(address);
}

/// A fresh directory removed, with what it holds, when this goes away.
struct TempDir {
   std::string path;
   TempDir()
   {
      std::string pattern = (fs::temp_directory_path() / "sofie_pytorch_reader_XXXXXX").string();
      if (!mkdtemp(pattern.data()))
         JitFail("cannot create a temporary directory");
      path = pattern;
   }
   ~TempDir()
   {
      std::error_code ignored;
      fs::remove_all(path, ignored);
   }
};

std::mutex gJitMutex; // cling is not thread-safe

} // namespace

std::string BindBlasForCling()
{
   static std::string bound;
   std::lock_guard<std::mutex> lock(gJitMutex);
   if (!bound.empty())
      return bound;
   for (const char *library : {"libopenblas.so.0", "libopenblas.so", "libblas.so.3"}) {
      // DEEPBIND: OpenBLAS's calls to its own helpers stay inside it, even when torch's
      // same-named routines are already loaded.
      void *handle = dlopen(library, RTLD_NOW | RTLD_GLOBAL | RTLD_DEEPBIND);
      if (!handle)
         continue;
      void *functions[4];
      bool complete = true;
      for (int i = 0; i < 4; ++i)
         complete = complete && (functions[i] = dlsym(handle, kBlasNames[i])) != nullptr;
      if (!complete)
         continue;
      std::copy(functions, functions + 4, sofie_pytorch_blas_table);
      if (!gInterpreter->Declare(kForwarders))
         JitFail("cling could not declare the BLAS bindings");
      bound = library;
      return bound;
   }
   JitFail("no BLAS library found for the generated code (tried libopenblas.so.0, libopenblas.so, "
           "libblas.so.3): install OpenBLAS, e.g. apt-get install libopenblas-dev");
}

namespace {

/// A generated Session behind the glue's type-erased functions; owns it.
class ErasedSession {
public:
   using Create = void *(*)(const char *);
   using Delete = void (*)(void *);
   ErasedSession(Create create, Delete destroy, const std::string &weights)
      : fSession(create(weights.c_str())), fDelete(destroy)
   {
   }
   ~ErasedSession() { fDelete(fSession); }
   ErasedSession(const ErasedSession &) = delete;
   ErasedSession &operator=(const ErasedSession &) = delete;
   void *get() const { return fSession; }

private:
   void *fSession;
   Delete fDelete;
};

} // namespace

struct Reader::Impl {
   std::string ns;
   std::vector<size_t> inputSizes;
   std::vector<ETensorType> inputTypes;
   TempDir dir; // holds the weight file, read by every new Session
   void (*infer)(void *, const void *const *, std::vector<std::vector<float>> *) = nullptr;
   std::unique_ptr<ThreadSessions<ErasedSession>> sessions;
};

Reader::Reader(const std::string &model, const std::vector<std::vector<size_t>> &inputShapes,
               const std::vector<ETensorType> &inputTypes)
{
   for (const auto &shape : inputShapes)
      for (size_t dim : shape)
         if (dim == kDynamic)
            JitFail("the C++ Reader takes fixed input shapes; use a size instead of kDynamic");
   RModel parsed = Parse(model, inputShapes, inputTypes);
   Build(parsed, -1);
}

Reader::Reader(RModel &model, int batchSize)
{
   Build(model, batchSize);
}

void Reader::Build(RModel &parsed, int batchSize)
{
   auto impl = std::make_unique<Impl>();
   // cling cannot redefine a namespace: every reader gets its own.
   static std::atomic<unsigned> counter{0};
   const std::string name = parsed.GetName() + "_reader" + std::to_string(++counter);
   parsed.SetFilename(name);
   parsed.Generate(Options::kDefault, batchSize);
   impl->ns = "SOFIE_" + name;
   for (const auto &input : parsed.GetInputTensorNames()) {
      if (parsed.IsDimInputTensor(input))
         JitFail("input " + input + " has a size chosen at run time; the Reader needs fixed input shapes "
                 "(give them, or a batch size)");
      impl->inputTypes.push_back(parsed.GetTensorType(input));
      impl->inputSizes.push_back(ConvertShapeToLength(parsed.GetTensorShape(input)));
   }

   BindBlasForCling();
   const auto files = WriteGenerated(parsed, impl->dir.path + "/" + name + ".hxx");
   std::ifstream header(files.at(0));
   std::stringstream code;
   code << header.rdbuf();
   {
      std::lock_guard<std::mutex> lock(gJitMutex);
      // The header's text is declared, so no path is pasted into C++; the names pasted
      // into the glue are identifiers made by the parser.
      if (!gInterpreter->Declare(code.str().c_str()) ||
          !gInterpreter->Declare(Glue(impl->ns, impl->inputTypes).c_str()))
         JitFail("cling could not compile the generated code of " + parsed.GetName());
      auto create = Address<ErasedSession::Create>(impl->ns + "::sofie_pytorch_new");
      auto destroy = Address<ErasedSession::Delete>(impl->ns + "::sofie_pytorch_delete");
      impl->infer = Address<void (*)(void *, const void *const *, std::vector<std::vector<float>> *)>(
         impl->ns + "::sofie_pytorch_infer");
      const std::string weights = files.size() > 1 ? files[1] : "";
      impl->sessions = std::make_unique<ThreadSessions<ErasedSession>>(create, destroy, weights);
   }
   fImpl = impl.release();
}

Reader::~Reader()
{
   delete fImpl;
}

size_t Reader::SessionCount() const
{
   return fImpl->sessions->size();
}

const std::vector<size_t> &Reader::InputSizes() const
{
   return fImpl->inputSizes;
}

const std::string &Reader::Namespace() const
{
   return fImpl->ns;
}

std::vector<std::vector<float>> Reader::Compute(const float *const *inputs, const size_t *sizes, size_t nInputs)
{
   const auto &expected = fImpl->inputSizes;
   if (nInputs != expected.size())
      throw ParseError("InputSpecError", std::to_string(nInputs) + " inputs given, the model takes " +
                                            std::to_string(expected.size()));
   // Checked before anything is read: a short vector must not be read past its end.
   for (size_t i = 0; i < nInputs; ++i)
      if (sizes[i] != expected[i])
         throw ParseError("InputSpecError", "input " + std::to_string(i) + " has " + std::to_string(sizes[i]) +
                                               " values, the model expects " + std::to_string(expected[i]));
   std::vector<std::vector<int64_t>> indices;
   std::vector<const void *> pointers(inputs, inputs + nInputs);
   for (size_t i = 0; i < nInputs; ++i) {
      if (fImpl->inputTypes[i] == ETensorType::INT64) {
         indices.resize(nInputs);
         indices[i].assign(inputs[i], inputs[i] + sizes[i]);
         pointers[i] = indices[i].data();
      }
   }
   std::vector<std::vector<float>> outputs;
   fImpl->infer(fImpl->sessions->Local().get(), pointers.data(), &outputs);
   return outputs;
}

std::vector<std::vector<float>> Reader::Compute(const std::vector<std::vector<float>> &inputs)
{
   std::vector<const float *> data;
   std::vector<size_t> sizes;
   for (const auto &input : inputs) {
      data.push_back(input.data());
      sizes.push_back(input.size());
   }
   return Compute(data.data(), sizes.data(), inputs.size());
}

std::vector<float> Reader::Compute(const std::vector<float> &input)
{
   const float *data = input.data();
   const size_t size = input.size();
   auto outputs = Compute(&data, &size, 1);
   return outputs.empty() ? std::vector<float>{} : std::move(outputs.front());
}

} // namespace PyTorch
} // namespace SOFIE
