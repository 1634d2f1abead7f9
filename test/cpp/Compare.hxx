// Comparing outputs with Torch's in the Reader tests: raw model data as floats, and the
// suite's tolerance (1e-5 absolute + 1e-4 relative).
#ifndef SOFIE_PYTORCH_TEST_COMPARE_HXX
#define SOFIE_PYTORCH_TEST_COMPARE_HXX

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace sofie_pytorch_test {

inline std::vector<float> AsFloats(const std::vector<char> &bytes)
{
   std::vector<float> values(bytes.size() / sizeof(float));
   std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
   return values;
}

inline void ExpectClose(const std::vector<float> &got, const std::vector<float> &want)
{
   ASSERT_EQ(got.size(), want.size());
   for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 1e-5 + 1e-4 * std::abs(want[i])) << "element " << i;
}

} // namespace sofie_pytorch_test

#endif
