// The C++ entry under fuzzing: reads a manifest (one input per line:
// `path <TAB> shapes <TAB> dtypes <TAB> label`, shapes as "2,4;2,5", "#" for none, dtypes
// as "float,int64" or "-"), calls SOFIE::PyTorch::Parse on each, and prints one line per
// input: `index <TAB> OK`, `index <TAB> ParseError <TAB> kind <TAB> first line`, or
// `index <TAB> OtherException <TAB> what`. A crash or hang shows as a missing line.
#include "TMVA/RModelParser_PyTorch.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using SOFIE::ETensorType;

std::vector<std::string> Split(const std::string &text, char sep)
{
   std::vector<std::string> parts;
   std::string part;
   std::istringstream in(text);
   while (std::getline(in, part, sep))
      parts.push_back(part);
   if (!text.empty() && text.back() == sep)
      parts.emplace_back();
   return parts;
}

std::vector<std::vector<size_t>> Shapes(const std::string &spec)
{
   std::vector<std::vector<size_t>> shapes;
   if (spec == "#")
      return shapes;
   for (const auto &shape : Split(spec, ';')) {
      std::vector<size_t> dims;
      for (const auto &dim : Split(shape, ','))
         if (!dim.empty())
            dims.push_back(std::stoull(dim));
      shapes.push_back(dims);
   }
   if (shapes.empty())
      shapes.emplace_back();
   return shapes;
}

std::vector<ETensorType> Types(const std::string &spec)
{
   static const std::map<std::string, ETensorType> names{
      {"float", ETensorType::FLOAT},     {"double", ETensorType::DOUBLE},   {"int64", ETensorType::INT64},
      {"int32", ETensorType::INT32},     {"bool", ETensorType::BOOL},       {"float16", ETensorType::FLOAT16},
      {"uint8", ETensorType::UINT8},     {"complex64", ETensorType::COMPLEX64}};
   std::vector<ETensorType> types;
   if (spec == "-")
      return types;
   for (const auto &name : Split(spec, ',')) {
      auto it = names.find(name);
      types.push_back(it == names.end() ? ETensorType::UNDEFINED : it->second);
   }
   return types;
}

std::string FirstLine(const std::string &text)
{
   return text.substr(0, text.find('\n'));
}

} // namespace

int main(int argc, char **argv)
{
   if (argc != 2) {
      std::cerr << "usage: " << argv[0] << " MANIFEST\n";
      return 2;
   }
   std::ifstream manifest(argv[1]);
   std::string line;
   for (size_t index = 0; std::getline(manifest, line); ++index) {
      const auto fields = Split(line, '\t');
      if (fields.size() < 3)
         continue;
      std::cout << index << '\t' << std::flush; // a crash leaves this line unfinished
      try {
         SOFIE::PyTorch::Parse(fields[0], Shapes(fields[1]), Types(fields[2]));
         std::cout << "OK\n";
      } catch (const SOFIE::PyTorch::ParseError &e) {
         std::cout << "ParseError\t" << e.kind() << '\t' << FirstLine(e.what()) << '\n';
      } catch (const std::exception &e) {
         std::cout << "OtherException\t" << FirstLine(e.what()) << '\n';
      } catch (...) {
         std::cout << "OtherException\tunknown\n";
      }
      std::cout.flush();
   }
   return 0;
}
