// The standard headers that SOFIE's generated code and the tests' drivers include.
// Precompiled once (GCC's .gch, by test/models/compiled.py and test/CMakeLists.txt) and
// given to every compile of generated test code with -include: parsing them was most of
// the time of compiling a small model. g++ parses this file as text instead when the
// precompiled form does not fit, so the result never depends on it.
#include <algorithm>
#include <cassert>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>
