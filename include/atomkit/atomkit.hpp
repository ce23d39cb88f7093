// atomkit: every primitive in one include.
#pragma once

#include <atomkit/barrier.hpp>
#include <atomkit/condition_variable.hpp>
#include <atomkit/event.hpp>
#include <atomkit/future.hpp>
#include <atomkit/ipc.hpp>
#include <atomkit/ipc_queue.hpp>
#include <atomkit/lock_all.hpp>
#include <atomkit/lock_order.hpp>
#include <atomkit/mpmc_queue.hpp>
#include <atomkit/reentrant_lock.hpp>
#include <atomkit/semaphore.hpp>
#include <atomkit/shared_memory.hpp>
#include <atomkit/seqlock.hpp>
#include <atomkit/spinlock.hpp>
#include <atomkit/spsc_queue.hpp>
#include <atomkit/thread_pool.hpp>
#include <atomkit/ticket_lock.hpp>
#include <atomkit/wait.hpp>
