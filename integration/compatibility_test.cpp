// docs/compatibility.md lists every command of the upstream's COMMAND (Redis's own list), so
// a command the table forgot shows up as a failing test rather than as a surprise in production.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "target.hpp"

namespace frontcache::integration {
namespace {

class Compatibility : public TargetTest {};

TEST_F(Compatibility, EveryCommandIsDocumented) {
  std::ifstream in(std::string(FRONTCACHE_SOURCE_DIR) + "/docs/compatibility.md");
  ASSERT_TRUE(in) << "docs/compatibility.md missing";
  std::stringstream doc;
  doc << in.rdbuf();
  auto direct = target().direct_client();
  Reply list = direct("COMMAND", "LIST");
  ASSERT_EQ(list.type, Reply::Type::Array) << list;
  ASSERT_GT(list.elements.size(), 200u);
  std::vector<std::string> missing;
  for (const auto& e : list.elements) {
    std::string name = e.str;
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (doc.str().find("| `" + name + "` |") == std::string::npos) missing.push_back(name);
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " commands missing from docs/compatibility.md"
                               << " (run integration/tools/compat_table.py), first: "
                               << (missing.empty() ? "" : missing.front());
  // COMMAND itself through the target is Redis's.
  EXPECT_EQ(target().client()("COMMAND", "COUNT").to_string(),
            direct("COMMAND", "COUNT").to_string());
}

}  // namespace
}  // namespace frontcache::integration
