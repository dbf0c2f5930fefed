# Interface target carrying the project's warning flags; every target of ours links it.
add_library(frontcache_warnings INTERFACE)
target_compile_options(frontcache_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
if(FRONTCACHE_WERROR)
  target_compile_options(frontcache_warnings INTERFACE -Werror)
endif()
