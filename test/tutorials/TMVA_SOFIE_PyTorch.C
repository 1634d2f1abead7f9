// In the style of ROOT's tutorial TMVA_SOFIE_PyTorch.C, with this project's parser:
// parse a TorchScript file into an RModel, generate the inference code, inspect it.
// PyTorchModel.pt is made beforehand (make_tutorial_inputs.py): ROOT's version runs
// TMVA's Python helpers for that, which ROOT from PyPI does not ship.
//
//   root -l -b -q TMVA_SOFIE_PyTorch.C

using namespace TMVA::Experimental;

void TMVA_SOFIE_PyTorch()
{
   // Parsing a PyTorch model requires the shape (and optionally the type) of each input.
   std::vector<size_t> inputTensorShapeSequential{2, 32};
   std::vector<std::vector<size_t>> inputShapesSequential{inputTensorShapeSequential};

   // The type is named before anything of the plugin is loaded: the rootmap declares it.
   SOFIE::RModel model = SOFIE::PyTorch::Parse("PyTorchModel.pt", inputShapesSequential);

   model.Generate();
   model.OutputGenerated("PyTorchModel.hxx");

   std::cout << "\n\n";
   model.PrintRequiredInputTensors();
   std::cout << "\n\n";
   model.PrintInitializedTensors();
   std::cout << "\n\n";
   model.PrintIntermediateTensors();

   // The parameter 0.weight of the nn.Sequential, by the name ROOT's parser gave it.
   std::cout << "\n\nTensor \"0weight\" already exist: " << std::boolalpha
             << model.CheckIfTensorAlreadyExist("0weight") << "\n\n";
   std::vector<size_t> tensorShape = model.GetTensorShape("0weight");
   std::cout << "Shape of tensor \"0weight\": ";
   for (auto &it : tensorShape)
      std::cout << it << ",";
   std::cout << "\n\nData type of tensor \"0weight\": ";
   SOFIE::ETensorType tensorType = model.GetTensorType("0weight");
   std::cout << SOFIE::ConvertTypeToString(tensorType);

   std::cout << "\n\n";
   model.PrintGenerated();
}
