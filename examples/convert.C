// A ROOT macro that converts a PyTorch model to SOFIE C++ code.
//
//   root -l -b -q 'examples/convert.C("model.pt", "model.hxx", 1, 4)'
//
// No gSystem->Load is needed in a build made with `make` (ROOT autoloads the plugin from
// its rootmap); with a pip-installed package, load it first:
//   root -l -b -e 'gSystem->Load("'$(sofie-pytorch config --library)'")' ...
void convert(const char *model = "model.pt", const char *header = "model.hxx",
             size_t batch = 1, size_t features = 4)
{
   try {
      auto rmodel = TMVA::Experimental::SOFIE::PyTorch::Parse(model, {{batch, features}});
      rmodel.Generate();
      rmodel.OutputGenerated(header);
      rmodel.PrintRequiredInputTensors();
      std::cout << "wrote " << header << std::endl;
   } catch (const SOFIE::PyTorch::ParseError &e) {
      // kind() names the cause: ModelLoadError, InputSpecError, UnsupportedOperatorError...
      std::cerr << "conversion failed (" << e.kind() << "): " << e.what() << std::endl;
      gSystem->Exit(1);
   }
}
