// Hook points between connection-state handling and the L1 (issue 4 fills them in).
#include "session.hpp"

namespace frontcache::proxy {

// `command` is a whole request sent upstream by a pinned session (including commands queued
// in MULTI, whose writes run at EXEC) or a script/function call (EVAL/EVALSHA/FCALL: the keys
// are command[3 .. 3+numkeys)). A write among them must invalidate its keys, locally and on
// the invalidation channel.
void Session::on_write_keys([[maybe_unused]] Args command) {}

}  // namespace frontcache::proxy
