// Compiling and running the code SOFIE generated, in a separate process, as a user would.
#ifndef SOFIE_PYTORCH_TEST_GENERATEDCODE_HXX
#define SOFIE_PYTORCH_TEST_GENERATEDCODE_HXX

#include <string>
#include <vector>

namespace sofie_pytorch_test {

/// A model's data: its input shapes and tensors, and Torch's outputs.
struct ModelData {
   std::string name;
   std::string file;                            // the model file, in the data directory
   std::vector<std::vector<size_t>> shapes;
   std::vector<std::string> dtypes;             // "float" or "int64", per input
   std::vector<std::vector<char>> inputs;       // raw little-endian data, per input
   std::vector<std::vector<float>> torchOutputs;
};

/// Read NAME.spec, NAME.in<i>.bin and NAME.out<i>.bin from dir (written by zoo.py).
ModelData ReadModelData(const std::string &dir, const std::string &name);

/// The model names listed in dir/MANIFEST.
std::vector<std::string> ReadManifest(const std::string &dir);

/// A fresh directory that is removed with everything in it when this goes away.
class TempDir {
public:
   TempDir();
   ~TempDir();
   TempDir(const TempDir &) = delete;
   TempDir &operator=(const TempDir &) = delete;
   const std::string &path() const { return fPath; }

private:
   std::string fPath;
};

/// Compile dir/<name>.hxx (namespace SOFIE_<name>, weights dir/<name>.dat) with a small
/// driver, run it on the inputs and return its outputs. Throws on any failure.
std::vector<std::vector<float>> CompileAndRun(const std::string &dir, const std::string &name,
                                              const std::vector<std::vector<char>> &inputs,
                                              const std::vector<std::string> &dtypes);

} // namespace sofie_pytorch_test

#endif
