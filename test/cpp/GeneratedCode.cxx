#include "GeneratedCode.hxx"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace sofie_pytorch_test {

namespace {

std::vector<float> ReadFloats(const fs::path &file)
{
   std::ifstream in(file, std::ios::binary);
   if (!in)
      throw std::runtime_error("cannot read " + file.string());
   in.seekg(0, std::ios::end);
   const auto bytes = static_cast<size_t>(in.tellg());
   in.seekg(0);
   std::vector<float> values(bytes / sizeof(float));
   in.read(reinterpret_cast<char *>(values.data()), values.size() * sizeof(float));
   return values;
}

std::vector<char> ReadBytes(const fs::path &file)
{
   std::ifstream in(file, std::ios::binary);
   if (!in)
      throw std::runtime_error("cannot read " + file.string());
   return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteBytes(const fs::path &file, const std::vector<char> &bytes)
{
   std::ofstream out(file, std::ios::binary);
   out.write(bytes.data(), bytes.size());
   if (!out)
      throw std::runtime_error("cannot write " + file.string());
}

/// The driver: reads the inputs, runs Session::infer, writes the outputs as float. infer
/// returns a vector for one output, a vector of vectors or a tuple for several, with the
/// outputs' element types; Collect takes them all.
std::string DriverSource(const std::string &name, const std::vector<std::string> &dtypes)
{
   std::ostringstream src;
   src << "#include \"" << name << ".hxx\"\n"
       << "#include <cstdint>\n#include <fstream>\n#include <string>\n#include <tuple>\n#include <vector>\n"
       << "using Outputs = std::vector<std::vector<float>>;\n"
       << "template <typename T> static std::vector<T> Read(const std::string &f) {\n"
       << "  std::ifstream in(f, std::ios::binary); in.seekg(0, std::ios::end);\n"
       << "  std::vector<T> v(size_t(in.tellg()) / sizeof(T)); in.seekg(0);\n"
       << "  in.read(reinterpret_cast<char *>(v.data()), v.size() * sizeof(T)); return v; }\n"
       << "template <typename T> static void Collect(const std::vector<T> &v, Outputs &o) {\n"
       << "  o.emplace_back(v.begin(), v.end()); }\n"
       << "template <typename T> static void Collect(const std::vector<std::vector<T>> &v, Outputs &o) {\n"
       << "  for (const auto &x : v) Collect(x, o); }\n"
       << "template <typename... Ts> static void Collect(const std::tuple<Ts...> &t, Outputs &o) {\n"
       << "  std::apply([&o](const auto &...x) { (Collect(x, o), ...); }, t); }\n"
       << "int main(int, char **argv) {\n"
       << "  const std::string dir = argv[1];\n"
       << "  SOFIE_" << name << "::Session session(dir + \"/" << name << ".dat\");\n";
   const size_t nInputs = dtypes.size();
   for (size_t i = 0; i < nInputs; ++i)
      src << "  auto in" << i << " = Read<" << (dtypes[i] == "int64" ? "int64_t" : "float") << ">(dir + \"/in" << i
          << ".bin\");\n";
   src << "  std::vector<std::vector<float>> outs;\n  Collect(session.infer(";
   for (size_t i = 0; i < nInputs; ++i)
      src << (i ? ", " : "") << "in" << i << ".data()";
   src << "), outs);\n"
       << "  for (size_t i = 0; i < outs.size(); ++i) {\n"
       << "    std::ofstream out(dir + \"/out\" + std::to_string(i) + \".bin\", std::ios::binary);\n"
       << "    out.write(reinterpret_cast<const char *>(outs[i].data()), outs[i].size() * sizeof(float)); }\n"
       << "  return 0;\n}\n";
   return src.str();
}

void Run(const std::string &command)
{
   if (std::system(command.c_str()) != 0)
      throw std::runtime_error("command failed: " + command);
}

} // namespace

std::vector<std::string> ReadManifest(const std::string &dir)
{
   std::ifstream in(fs::path(dir) / "MANIFEST");
   std::vector<std::string> names;
   for (std::string line; std::getline(in, line);)
      if (!line.empty())
         names.push_back(line);
   return names;
}

ModelData ReadModelData(const std::string &dir, const std::string &name)
{
   ModelData data;
   data.name = name;
   data.file = name + ".pt";
   std::ifstream spec(fs::path(dir) / (name + ".spec"));
   if (!spec)
      throw std::runtime_error("no spec for model " + name + " in " + dir);
   size_t nOutputs = 0;
   for (std::string line; std::getline(spec, line);) {
      std::istringstream words(line);
      std::string key, dims, dtype = "float";
      words >> key;
      if (key == "input") {
         words >> dims >> dtype;
         std::vector<size_t> shape;
         std::istringstream parts(dims);
         for (std::string d; std::getline(parts, d, ',');)
            shape.push_back(std::stoul(d));
         data.shapes.push_back(shape);
         data.dtypes.push_back(dtype);
      } else if (key == "outputs") {
         words >> nOutputs;
      } else if (key == "file") {
         words >> data.file;
      }
   }
   for (size_t i = 0; i < data.shapes.size(); ++i)
      data.inputs.push_back(ReadBytes(fs::path(dir) / (name + ".in" + std::to_string(i) + ".bin")));
   for (size_t i = 0; i < nOutputs; ++i)
      data.torchOutputs.push_back(ReadFloats(fs::path(dir) / (name + ".out" + std::to_string(i) + ".bin")));
   return data;
}

TempDir::TempDir()
{
   std::string pattern = (fs::temp_directory_path() / "sofie_pytorch_test_XXXXXX").string();
   if (!mkdtemp(pattern.data()))
      throw std::runtime_error("cannot create a temporary directory");
   fPath = pattern;
}

TempDir::~TempDir()
{
   std::error_code ignored;
   fs::remove_all(fPath, ignored);
}

std::vector<std::vector<float>> CompileAndRun(const std::string &dir, const std::string &name,
                                              const std::vector<std::vector<char>> &inputs,
                                              const std::vector<std::string> &dtypes)
{
   const fs::path base(dir);
   std::ofstream(base / "driver.cxx") << DriverSource(name, dtypes);
   for (size_t i = 0; i < inputs.size(); ++i)
      WriteBytes(base / ("in" + std::to_string(i) + ".bin"), inputs[i]);
   // Plain C++17 and the system's OpenBLAS: what a user's analysis code would use.
   // (-include: the standard headers, precompiled by the build for exactly these flags)
   // Through the tests' compile cache (test/models/compile_cache.py, build/test-cache/):
   // a program whose preprocessed source, flags, compiler and BLAS are unchanged since an
   // earlier run is copied from there instead of compiled again.
   Run(std::string(SOFIE_PYTORCH_TEST_PYTHON) + " " + SOFIE_PYTORCH_TEST_COMPILE_CACHE + " " +
       SOFIE_PYTORCH_TEST_CACHE_DIR + " " + SOFIE_PYTORCH_TEST_CXX + " -std=c++17 -O1 -include " +
       SOFIE_PYTORCH_TEST_PCH + " -I" + dir + " " + (base / "driver.cxx").string() + " -o " +
       (base / "driver").string() + " " + SOFIE_PYTORCH_TEST_BLAS);
   Run((base / "driver").string() + " " + dir);
   std::vector<std::vector<float>> outputs;
   for (size_t i = 0; fs::exists(base / ("out" + std::to_string(i) + ".bin")); ++i)
      outputs.push_back(ReadFloats(base / ("out" + std::to_string(i) + ".bin")));
   return outputs;
}

} // namespace sofie_pytorch_test
