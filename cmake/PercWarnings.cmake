# Warnings every target of ours is built with. -Werror keeps them at zero on
# both gcc and clang.
set(PERC_WARNINGS
  -Wall -Wextra -Werror -Wpedantic
  -Wshadow -Wformat=2 -Wconversion -Wsign-conversion
  -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition
  -Wcast-qual -Wpointer-arith -Wvla -Wundef -Wwrite-strings
  -Wimplicit-fallthrough -Wnull-dereference
)

function(perc_target_warnings target)
  target_compile_options(${target} PRIVATE ${PERC_WARNINGS})
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L)
endfunction()
