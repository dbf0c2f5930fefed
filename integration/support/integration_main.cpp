// gtest main for the integration binaries: a peer closing a socket must show up as an error
// return, not kill the test with SIGPIPE.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>

#include "target.hpp"

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  ::testing::InitGoogleTest(&argc, argv);
  std::cerr << "frontcache integration target: "
            << frontcache::integration::target_name(frontcache::integration::target_kind())
            << std::endl;
  return RUN_ALL_TESTS();
}
