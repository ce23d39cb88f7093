// atomkit: standalone acquire/release fences (defined in the OS layer, os.hpp, so that a model
// build replaces them too), for the few protocols that must order accesses the
// library does not perform itself (a user's relaxed loads inside an optimistic read, a user's
// stores inside a write section).
//
// TSan does not model fences (and GCC says so with -Wtsan, an error under -Werror). Every use site
// states why TSan needs no happens-before edge from its fence: where a fence only makes a
// validation FAIL (it carries the "a writer was here" fact, not data), TSan loses nothing, since
// data that a validated reader goes on to use is published by release/acquire atomics it models.
#pragma once

#include <atomkit/detail/os.hpp>
