// atomkit: the argument for the store-to-load barrier that lets a release (wake) path skip the
// futex system call when nobody sleeps, without paying a locked instruction on that path.
//
// The pattern (Dekker):  waker:   W: store(word);   [light];  R: load(sleepers)
//                        sleeper: S: ++sleepers;    [heavy];  C: check(word), futex_wait
// needs that the waker sees the sleeper, or the sleeper sees the store. The light side is a
// compiler barrier only; the heavy side is membarrier(PRIVATE_EXPEDITED), which makes every
// running thread of this process execute a full memory barrier before it returns. Whichever side
// of that barrier the waker's W and R fall, one of the two reads sees the other's write (the
// argument of folly's asymmetric fences). The heavy side runs only before a thread goes to sleep,
// already a system call. The same holds when S is any write to a word R reads (the engine's
// clearing of a wake claim, wait_engine.hpp): if R read the value before S, R ran before the
// barrier reached the waker's CPU, so W was drained by then and C sees it.
//
// membarrier covers one process only, so process-shared words and kernels without it use a
// seq_cst fence on both sides instead (the symmetric handshake). The fences order atomics against
// atomics for the lost-wake-up argument only; no data is published through them, so TSan's not
// modelling them hides no race.
//
// The barriers themselves are in the OS layer (os.hpp; os_linux.hpp for Linux), which a model
// build replaces: a model checker cannot see membarrier, so the model checks (tests/model/) run
// the symmetric form, and this argument stands for the asymmetric one.
#pragma once

#include <atomkit/detail/os.hpp>
