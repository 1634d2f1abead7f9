// TMVA::Experimental::RSofieReader: picks the parser from the file's extension, then
// hands the parsed model to SOFIE::PyTorch::Reader (generate, compile with cling, run).
#include "TMVA/RSofieReader.hxx"

#include "SOFIE/RModelParser_ONNX.hxx"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>
#include <sys/stat.h>

namespace TMVA {
namespace Experimental {

namespace {

using SOFIE::PyTorch::ParseError;

/// The file's extension, lower case, without the dot ("" when there is none).
std::string Extension(const std::string &path)
{
   const auto slash = path.find_last_of('/');
   const auto dot = path.find_last_of('.');
   if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
      return {};
   std::string ext = path.substr(dot + 1);
   std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
   return ext;
}

SOFIE::RModel ParseOnnx(const std::string &path, int verbose)
{
   struct stat st {};
   if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      throw ParseError("ModelLoadError", "RSofieReader: no such file: " + path);
   try {
      SOFIE::RModelParser_ONNX parser;
      return parser.Parse(path, verbose > 1);
   } catch (const ParseError &) {
      throw;
   } catch (const std::exception &e) {
      throw ParseError("SofieError", "RSofieReader: the ONNX parser could not read " + path + ": " + e.what());
   }
}

SOFIE::RModel ParsePyTorch(const std::string &path, const std::vector<std::vector<size_t>> &inputShapes)
{
   if (inputShapes.empty())
      throw ParseError("InputSpecError",
                       "RSofieReader: a PyTorch model needs the shape of each input, e.g. "
                       "RSofieReader(\"model.pt\", {{1, 7}}) for one input of 7 values (from PyROOT, build "
                       "them as a std::vector<std::vector<size_t>>: PyROOT turns a list of lists into "
                       "an empty one)");
   return SOFIE::PyTorch::Parse(path, inputShapes);
}

/// ROOT's reader fixes a batch size left open in an ONNX file by passing it to
/// RModel::Generate, but the engine only replaces parameters named batch_size, bs or
/// input_size: an exporter's own name (torch's dynamic_axes, e.g. "N") would stay open.
/// Fixes whatever parameter the first dimension of each input has.
void FixBatchDimension(SOFIE::RModel &model, size_t batchSize)
{
   std::map<std::string, size_t> params;
   for (const auto &input : model.GetInputTensorNames()) {
      const auto shape = model.GetDimTensorShape(input);
      if (!shape.empty() && shape[0].isParam)
         params[shape[0].param] = batchSize;
   }
   if (!params.empty())
      model.Initialize(params);
}

} // namespace

void RSofieReader::Load(const std::string &path, std::vector<std::vector<size_t>> inputShapes, int verbose)
{
   const std::string ext = Extension(path);
   const bool onnx = ext == "onnx";
   if (!onnx && ext != "pt" && ext != "pth" && ext != "pt2")
      throw ParseError("ModelLoadError", "RSofieReader: cannot read '" + path + "' (extension '" + ext +
                                            "'): supported are PyTorch files (.pt, .pth: TorchScript; "
                                            ".pt2: torch.export) and ONNX files (.onnx)");
   if (verbose)
      std::cout << "RSofieReader: parsing " << path << (onnx ? " with SOFIE's ONNX parser" : " with the PyTorch parser")
                << std::endl;
   SOFIE::RModel model = onnx ? ParseOnnx(path, verbose) : ParsePyTorch(path, inputShapes);
   // As ROOT's reader does: for ONNX the first dimension of the first shape, if given,
   // fixes a batch size left open in the file.
   int batchSize = -1;
   if (onnx) {
      batchSize = !inputShapes.empty() && !inputShapes[0].empty() && inputShapes[0][0] > 0
                     ? static_cast<int>(inputShapes[0][0])
                     : 1;
      FixBatchDimension(model, batchSize);
   }
   auto reader = std::make_unique<SOFIE::PyTorch::Reader>(model, batchSize);
   if (verbose) {
      model.PrintRequiredInputTensors();
      model.PrintIntermediateTensors();
      model.PrintOutputTensors();
      if (verbose > 1)
         model.PrintGenerated();
   }
   fReader = std::move(reader); // only a complete reader replaces the previous one
}

SOFIE::PyTorch::Reader &RSofieReader::Loaded() const
{
   if (!fReader)
      throw ParseError("InputSpecError", "RSofieReader: no model loaded; construct it with a path or call Load()");
   return *fReader;
}

std::vector<float> RSofieReader::First(std::vector<std::vector<float>> &&outputs)
{
   if (outputs.empty())
      throw ParseError("SofieError", "RSofieReader: the model returned no output");
   return std::move(outputs.front());
}

std::vector<float> RSofieReader::ComputeN(std::initializer_list<const std::vector<float> *> inputs)
{
   std::vector<const float *> data;
   std::vector<size_t> sizes;
   for (const auto *x : inputs) {
      data.push_back(x->data());
      sizes.push_back(x->size());
   }
   return First(Loaded().Compute(data.data(), sizes.data(), data.size()));
}

RTensor<float> RSofieReader::Compute(RTensor<float> &x)
{
   auto &reader = Loaded();
   if (reader.InputSizes().size() != 1)
      throw ParseError("InputSpecError", "RSofieReader: the batch Compute takes models of one input; this one has " +
                                            std::to_string(reader.InputSizes().size()));
   const auto &shape = x.GetShape();
   if (shape.size() < 2)
      throw ParseError("InputSpecError", "RSofieReader: the batch Compute takes a tensor of shape "
                                         "{nevents, nfeatures...}; this one has " +
                                            std::to_string(shape.size()) + " dimension(s)");
   const size_t nEvents = shape[0];
   const size_t rowSize = x.GetSize() / std::max<size_t>(nEvents, 1);
   // Events must be contiguous rows: a column-major tensor is copied into one first.
   RTensor<float> rowMajor = x.GetMemoryLayout() == MemoryLayout::RowMajor ? x : x.Copy(MemoryLayout::RowMajor);
   std::vector<float> result;
   size_t nOutputs = 0;
   for (size_t i = 0; i < nEvents; ++i) {
      const float *row = rowMajor.GetData() + i * rowSize;
      auto y = First(reader.Compute(&row, &rowSize, 1));
      if (i == 0) {
         nOutputs = y.size();
         result.reserve(nEvents * nOutputs);
      }
      result.insert(result.end(), y.begin(), y.end());
   }
   RTensor<float> out({nEvents, nOutputs});
   std::copy(result.begin(), result.end(), out.GetData());
   return out;
}

} // namespace Experimental
} // namespace TMVA
