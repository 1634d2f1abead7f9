// Converts a PyTorch model to SOFIE C++ code from a compiled program.
//   parse_model MODEL.pt OUTPUT.hxx D0,D1,... [D0,D1,... for further inputs]
#include "TMVA/RModelParser_PyTorch.h"

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char **argv)
{
   if (argc < 4) {
      std::cerr << "usage: " << argv[0] << " MODEL.pt OUTPUT.hxx D0,D1,... [...]\n";
      return 2;
   }
   std::vector<std::vector<size_t>> shapes;
   for (int i = 3; i < argc; ++i) {
      std::vector<size_t> shape;
      std::istringstream dims(argv[i]);
      for (std::string d; std::getline(dims, d, ',');)
         shape.push_back(std::stoul(d));
      shapes.push_back(shape);
   }
   try {
      auto model = TMVA::Experimental::SOFIE::PyTorch::Parse(argv[1], shapes);
      model.Generate();
      model.OutputGenerated(argv[2]);
      model.PrintRequiredInputTensors();
   } catch (const SOFIE::PyTorch::ParseError &e) {
      std::cerr << "error (" << e.kind() << "): " << e.what() << "\n";
      return 1;
   }
   return 0;
}
