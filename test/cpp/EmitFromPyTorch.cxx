// A program in the style of ROOT's tmva/pymva/test/EmitFromPyTorch.cxx: it starts Python
// itself (Py_Initialize) before calling the parser, includes ROOT's header names, and
// emits the generated code of a PyTorch model.
//
//   EmitFromPyTorch <model.pt> <out.hxx> <dim,dim,...>
//
// The interpreter it starts is the base Python's, without the environment's packages
// (torch, ROOT, sofie_pytorch); Parse must make them importable.
#include <Python.h>

#include "TMVA/RModel.hxx"
#include "TMVA/RModelParser_ONNX.hxx"
#include "TMVA/RModelParser_PyTorch.h"
#include "TMVA/SOFIE_common.hxx"
#include "TMVA/WriteGenerated_PyTorch.h"

#include <iostream>
#include <sstream>

using namespace TMVA::Experimental;

int main(int argc, char **argv)
{
   if (argc != 4) {
      std::cerr << "usage: EmitFromPyTorch <model.pt> <out.hxx> <dim,dim,...>\n";
      return 2;
   }
   std::vector<size_t> shape;
   std::stringstream dims(argv[3]);
   for (std::string dim; std::getline(dims, dim, ',');)
      shape.push_back(std::stoul(dim));

   Py_Initialize();
   try {
      SOFIE::RModel model = SOFIE::PyTorch::Parse(argv[1], {shape});
      model.Generate();
      SOFIE::PyTorch::WriteGenerated(model, argv[2]);
      model.PrintRequiredInputTensors();
      SOFIE::ETensorType type = model.GetTensorType(model.GetInputTensorNames().at(0));
      std::cout << "input type " << SOFIE::ConvertTypeToString(type) << "\n";
      std::cout << "ONNX operators known to the engine's parser: "
                << SOFIE::RModelParser_ONNX().GetRegisteredOperators().size() << "\n";
   } catch (const std::exception &e) {
      std::cerr << "EmitFromPyTorch: " << e.what() << "\n";
      return 1;
   }
   return 0; // Python stays initialised: torch cannot be finalised cleanly
}
