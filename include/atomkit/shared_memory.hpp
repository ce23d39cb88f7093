// atomkit/shared_memory.hpp: a mapped POSIX shared-memory region holding named atomkit objects
// (the meeting point of Python's multiprocessing.shared_memory and a Manager's named objects).
//
// Usage: auto region = atomkit::shared_memory::create("/jobs", 1 << 20);       // one process
//        auto& q = region.construct<atomkit::ipc::mpmc_queue<job>>("queue", 64);
//        auto region = atomkit::shared_memory::open("/jobs");                   // another one
//        auto& q = region.find<atomkit::ipc::mpmc_queue<job>>("queue");
// Reference: docs/shared_memory.md
//
// Regions. create() makes a new named region (shm_open with O_CREAT|O_EXCL, mode 0600: the
// creating user's processes only), sizes it and initializes its header; open() maps an existing
// one; anonymous() maps MAP_SHARED|MAP_ANONYMOUS memory that fork() children inherit; remove()
// unlinks a name (shm_unlink: mappings stay valid, the memory goes with the last one). Names are
// as shm_open takes them: "/jobs" (a missing leading '/' is added; no other '/'). A
// shared_memory object is one process's mapping: movable, not copyable; its destructor unmaps.
// Every process maps the region at its own address, so nothing inside holds a pointer: the
// directory and every object refer to memory by offset from the start of the region.
//
// Layout. header (below) at offset 0: magic and version, the ready word, the directory lock
// (an ipc spinlock), the bump allocator's offset and a fixed directory of `max_entries` named
// entries (key, type fingerprint, offset, size, state); then the objects, each aligned to its
// type's alignment, in the order they were constructed. Memory is never reused: objects are never
// destroyed by the region (their destructors do not run; a constructor that throws leaves its
// bytes unused), which is why everything meant for it is an ipc:: object or trivially copyable.
//
// Races. create() initializes the header, then stores the ready word (release) and wakes
// waiters; open() waits (engine, shared futex, up to 1 s) for that word before it reads anything,
// so an open racing with a create never sees a half-built header. construct() claims its key
// under the directory lock (one of two racing processes wins; the other gets file_exists, or the
// object from find_or_construct), then runs the constructor outside the lock with the entry
// marked `constructing`; find() of an entry in that state waits on its state word (engine, shared
// futex) for up to 1 s, then throws errc::timed_out. A type whose class provides
// `static std::size_t bytes_for(args...)` and `static T* create_at(void*, args...)` (the ipc
// queues) is sized and placed through them.
//
// Errors: std::system_error with errc::file_exists (name or key taken), no_such_file_or_directory
// (missing), not_enough_memory (region or directory full), timed_out (still under construction, or
// a region never initialized, after 1 s), the OS's own code for other failures;
// std::invalid_argument for an empty, too long or malformed name or key, size 0 or too small, or a
// key holding another type (types are told apart by a fingerprint of the type's name as the
// compiler spells it, its size and alignment: processes built by one compiler agree). Messages
// name the region and key.
// Under -fno-exceptions these end the program with the message.
//
// What a crashed process leaves: one killed while constructing leaves its entry `constructing`
// (find() then times out; the key stays taken); one killed holding the directory lock (a few
// hundred instructions of bookkeeping) leaves the directory locked, and every later construct or
// find of that region waits for ever. A process's mapping ends with it; the region stays until
// remove() and the last unmap.
//
// Using a private primitive (park policy: atomkit::mpmc_queue, atomkit::spinlock, ...) in shared
// memory is the caller's bug: its futex wake-ups do not reach other processes. Use ipc:: types.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/wait_engine.hpp>
#include <atomkit/spinlock.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#if ATOMKIT_EXCEPTIONS
#include <stdexcept>
#include <system_error>
#endif

namespace atomkit {

namespace detail::shm {

inline constexpr std::uint64_t magic = 0x61746f6d6b697401;  // "atomkit" and layout version 1
inline constexpr std::uint32_t ready_value = 0x52454459;    // the ready word once initialized
inline constexpr std::size_t max_key = 63;                  // bytes in a key
inline constexpr std::size_t max_entries = 64;              // named objects in a region
inline constexpr std::size_t max_alignment = 4096;          // the region starts on a page
inline constexpr std::chrono::seconds wait_limit{1};        // open's and find's waits

// An entry's state word (also the futex word that finders of a `constructing` entry sleep on).
inline constexpr std::uint32_t constructing = 1;  // key claimed, constructor running
inline constexpr std::uint32_t ready = 2;         // the object is there (release store)
inline constexpr std::uint32_t failed = 3;        // the constructor threw: ignored by lookups

// One named object. key, fingerprint, offset and bytes are written under the directory lock
// before the entry is counted, and never change; state changes outside the lock.
struct entry {
  char key[max_key + 1];            // NUL-terminated
  std::uint64_t fingerprint;        // type_fingerprint<T>()
  std::uint64_t offset;             // from the start of the region (never a pointer)
  std::uint64_t bytes;              // the object's extent
  atomic<std::uint32_t> state;      // constructing, ready or failed
  atomic<std::uint32_t> sleepers;   // finders asleep on state
};

// At offset 0 of every region. Zero-filled by ftruncate (or mmap) before create() builds it.
struct header {
  atomic<std::uint32_t> ready;           // 0 until initialized, then ready_value (futex word)
  atomic<std::uint32_t> ready_sleepers;  // opens asleep on ready
  std::uint64_t magic;                   // detail::shm::magic
  std::uint64_t size;                    // the region's size in bytes
  basic_spinlock<process_shared> lock;   // guards used, count and the entries being added
  std::uint64_t used;                    // bump allocator: the first free offset, <= size
  std::uint64_t count;                   // entries in use, <= max_entries
  entry entries[max_entries];
};
static_assert(sizeof(header) < 16384, "the directory stays small");
static_assert(std::is_trivially_destructible_v<entry>);

[[noreturn]] ATOMKIT_NOINLINE inline void fail(std::errc code, const std::string& what) {
#if ATOMKIT_EXCEPTIONS
  throw std::system_error(std::make_error_code(code), "atomkit::shared_memory: " + what);
#else
  (void)code;
  std::fprintf(stderr, "atomkit::shared_memory: %s\n", what.c_str());
  std::abort();
#endif
}

[[noreturn]] ATOMKIT_NOINLINE inline void os_fail(int err, const std::string& what) {
#if ATOMKIT_EXCEPTIONS
  throw std::system_error(err, std::generic_category(), "atomkit::shared_memory: " + what);
#else
  std::fprintf(stderr, "atomkit::shared_memory: %s: %s\n", what.c_str(), std::strerror(err));
  std::abort();
#endif
}

[[noreturn]] ATOMKIT_NOINLINE inline void bad_argument(const std::string& what) {
#if ATOMKIT_EXCEPTIONS
  throw std::invalid_argument("atomkit::shared_memory: " + what);
#else
  std::fprintf(stderr, "atomkit::shared_memory: invalid argument: %s\n", what.c_str());
  std::abort();
#endif
}

inline std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// The name as shm_open takes it, or "" when it is not a valid one (reason in `why`).
inline std::string normalize(const std::string& name, const char*& why) {
  why = nullptr;
  if (name.empty()) {
    why = "empty region name";
    return {};
  }
  std::string n = name.front() == '/' ? name : "/" + name;
  if (n.size() == 1) {
    why = "a region name needs a character after '/'";
  } else if (n.find('/', 1) != std::string::npos) {
    why = "'/' may only start a region name";
  } else if (n.find('\0') != std::string::npos) {
    why = "a region name may not hold NUL";
  } else if (n.size() > NAME_MAX) {
    why = "region name longer than NAME_MAX";
  }
  return why == nullptr ? n : std::string();
}

inline std::string region_name(const std::string& name) {
  const char* why = nullptr;
  std::string n = normalize(name, why);
  if (why != nullptr) bad_argument(std::string(why) + ": " + quoted(name));
  return n;
}

// FNV-1a of the type's name as this compiler spells it, mixed with its size and alignment.
template <class T>
std::uint64_t type_fingerprint() noexcept {
  const std::string_view f = static_cast<const char*>(__PRETTY_FUNCTION__);
  const std::size_t at = f.find("T = ");
  std::string_view t = at == std::string_view::npos ? f : f.substr(at + 4);
  t = t.substr(0, t.find_first_of(";]"));
  std::uint64_t h = 0xcbf29ce484222325ULL;
  const auto mix = [&h](std::uint64_t byte) {
    h ^= byte;
    h *= 0x100000001b3ULL;
  };
  for (const char c : t) mix(static_cast<unsigned char>(c));
  for (std::uint64_t v : {std::uint64_t{sizeof(T)}, std::uint64_t{alignof(T)}}) {
    for (int i = 0; i < 8; ++i) mix((v >> (8 * i)) & 0xff);
  }
  return h;
}

// Types that size and place themselves (the ipc queues: object and trailing ring).
template <class T, class... Args>
concept self_placing = requires(void* where, Args&... args) {
  { T::bytes_for(args...) } -> std::convertible_to<std::size_t>;
  { T::create_at(where, args...) } -> std::same_as<T*>;
};

}  // namespace detail::shm

class shared_memory {
 public:
  // A new named region of `bytes` bytes (file_exists if the name is taken).
  static shared_memory create(const std::string& name, std::size_t bytes) {
    const std::string n = detail::shm::region_name(name);
    check_size(n, bytes);
    const int fd = ::shm_open(n.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
      const int err = errno;
      if (err == EEXIST) {
        detail::shm::fail(std::errc::file_exists, "region " + n + " already exists");
      }
      detail::shm::os_fail(err, "shm_open(" + n + ")");
    }
    if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      const int err = errno;
      ::close(fd);
      ::shm_unlink(n.c_str());
      detail::shm::os_fail(err, "ftruncate of region " + n);
    }
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) {
      ::shm_unlink(n.c_str());
      detail::shm::os_fail(err, "mmap of region " + n);
    }
    shared_memory r(p, bytes, n);
    r.initialize();
    return r;
  }

  // An existing named region (no_such_file_or_directory if there is none). Waits up to 1 s for a
  // creator still initializing it (then timed_out); invalid_argument if it is not an atomkit
  // region.
  static shared_memory open(const std::string& name) {
    const std::string n = detail::shm::region_name(name);
    const int fd = ::shm_open(n.c_str(), O_RDWR, 0);
    if (fd < 0) {
      const int err = errno;
      if (err == ENOENT) {
        detail::shm::fail(std::errc::no_such_file_or_directory, "region " + n + " does not exist");
      }
      detail::shm::os_fail(err, "shm_open(" + n + ")");
    }
    // A creator sizes the region right after creating it; until then it is empty. This is a file
    // size, not a word the engine could sleep on: a bounded yield loop covers that short window.
    const detail::deadline dl = detail::deadline::after(detail::shm::wait_limit);
    struct stat st {};
    for (;;) {
      if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        detail::shm::os_fail(err, "fstat of region " + n);
      }
      if (static_cast<std::size_t>(st.st_size) >= sizeof(detail::shm::header) || dl.passed()) break;
      detail::yield_now();
    }
    const auto bytes = static_cast<std::size_t>(st.st_size);
    if (bytes < sizeof(detail::shm::header)) {
      ::close(fd);
      detail::shm::fail(std::errc::timed_out, "region " + n +
                                                  " was not initialized within 1 s (its creator "
                                                  "died, or it is not an atomkit region)");
    }
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) detail::shm::os_fail(err, "mmap of region " + n);
    shared_memory r(p, bytes, n);
    r.await_ready(dl);
    return r;
  }

  // Anonymous shared memory (MAP_SHARED|MAP_ANONYMOUS): no name; fork() children share it.
  static shared_memory anonymous(std::size_t bytes) {
    const std::string n = "(anonymous)";
    check_size(n, bytes);
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) detail::shm::os_fail(errno, "mmap of an anonymous region");
    shared_memory r(p, bytes, n);
    r.initialize();
    return r;
  }

  // Unlinks the name (shm_unlink); mappings stay valid. false if it did not exist or is invalid.
  static bool remove(const std::string& name) noexcept {
    const char* why = nullptr;
    const std::string n = detail::shm::normalize(name, why);
    return why == nullptr && ::shm_unlink(n.c_str()) == 0;
  }

  shared_memory(shared_memory&& o) noexcept
      : base_(std::exchange(o.base_, nullptr)), size_(std::exchange(o.size_, 0)),
        name_(std::move(o.name_)) {}
  shared_memory& operator=(shared_memory&& o) noexcept {
    if (this != &o) {
      unmap();
      base_ = std::exchange(o.base_, nullptr);
      size_ = std::exchange(o.size_, 0);
      name_ = std::move(o.name_);
    }
    return *this;
  }
  shared_memory(const shared_memory&) = delete;
  shared_memory& operator=(const shared_memory&) = delete;
  ~shared_memory() { unmap(); }

  // Constructs a T named `key` in the region (file_exists if the key is taken).
  template <class T, class... Args>
  T& construct(const std::string& key, Args&&... args) {
    return make<T>(key, false, std::forward<Args>(args)...);
  }

  // The T named `key`; waits up to 1 s for a constructor still running in another process
  // (then timed_out); no_such_file_or_directory if absent, invalid_argument if another type.
  template <class T>
  T& find(const std::string& key) {
    check_key(key);
    detail::shm::entry* e = nullptr;
    {
      const lock_guard g(hdr().lock, name_);
      e = lookup(key);
    }
    T* obj = e == nullptr ? nullptr : await_object<T>(*e, key);
    if (obj == nullptr) {
      detail::shm::fail(std::errc::no_such_file_or_directory,
                        "region " + name_ + " holds no object " + detail::shm::quoted(key));
    }
    return *obj;
  }

  // The T named `key`, constructed from args if absent (by exactly one of racing processes; the
  // others wait for its constructor as find() does).
  template <class T, class... Args>
  T& find_or_construct(const std::string& key, Args&&... args) {
    return make<T>(key, true, std::forward<Args>(args)...);
  }

  // The whole mapping (header included) and its size.
  void* data() noexcept { return base_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  using entry = detail::shm::entry;
  using header = detail::shm::header;

  // Holds the directory lock of a region for a scope. Its critical sections are a few loads and
  // stores (no user code), so a lock still held after 1 s means its holder died inside one: the
  // caller gets timed_out naming the region instead of a hang.
  class lock_guard {
   public:
    lock_guard(basic_spinlock<process_shared>& l, const std::string& region)
        : held_(acquire(l, region), std::adopt_lock) {}

   private:
    static basic_spinlock<process_shared>& acquire(basic_spinlock<process_shared>& l,
                                                   const std::string& region) {
      if (!l.try_lock_for(std::chrono::seconds(1))) {
        detail::shm::fail(std::errc::timed_out,
                          "region " + region +
                              ": its directory lock has been held for over 1 s (did a process "
                              "die while it added an object?)");
      }
      return l;
    }
    std::lock_guard<basic_spinlock<process_shared>> held_;
  };

  shared_memory(void* base, std::size_t size, std::string name) noexcept
      : base_(base), size_(size), name_(std::move(name)) {}

  static void check_size(const std::string& n, std::size_t bytes) {
    if (bytes == 0) detail::shm::bad_argument("region " + n + ": size 0");
    if (bytes < sizeof(header) || bytes > static_cast<std::size_t>(PTRDIFF_MAX)) {
      detail::shm::bad_argument("region " + n + ": size " + std::to_string(bytes) +
                                " is outside [" + std::to_string(sizeof(header)) +
                                " (its directory), PTRDIFF_MAX]");
    }
  }

  void check_key(const std::string& key) const {
    if (key.empty()) detail::shm::bad_argument("region " + name_ + ": empty key");
    if (key.size() > detail::shm::max_key) {
      detail::shm::bad_argument("region " + name_ + ": key " + detail::shm::quoted(key) +
                                " is longer than " + std::to_string(detail::shm::max_key) +
                                " bytes");
    }
    if (key.find('\0') != std::string::npos) {
      detail::shm::bad_argument("region " + name_ + ": a key may not hold NUL");
    }
  }

  [[nodiscard]] header& hdr() const noexcept { return *static_cast<header*>(base_); }

  void unmap() noexcept {
    if (base_ != nullptr) ::munmap(base_, size_);
    base_ = nullptr;
  }

  // create()/anonymous(): builds the header in the zero-filled mapping, then publishes it.
  void initialize() noexcept {
    auto* h = ::new (base_) header{};
    h->magic = detail::shm::magic;
    h->size = size_;
    h->used = sizeof(header);
    h->count = 0;
    // release: pairs with open()'s acquire load: a process that sees ready sees the header.
    h->ready.store(detail::shm::ready_value, std::memory_order_release);
    detail::notify<process_shared>(h->ready, h->ready_sleepers, detail::wake_all_count,
                                   detail::sharing_of<process_shared>);
  }

  // open(): waits for the creator's ready store, then checks what it published.
  void await_ready(const detail::deadline& dl) {
    header& h = hdr();
    std::uint32_t seen = 0;
    const bool ok = detail::await<process_shared>(
        h.ready, h.ready_sleepers,
        [&] {
          // acquire: pairs with initialize()'s release store: the header is visible.
          seen = h.ready.load(std::memory_order_acquire);
          return seen != 0 ? detail::attempt::success() : detail::attempt::retry(seen);
        },
        dl, detail::sharing_of<process_shared>);
    if (!ok) {
      const std::string n = name_;
      unmap();
      detail::shm::fail(std::errc::timed_out, "region " + n +
                                                  " was not initialized within 1 s (its creator "
                                                  "died, or it is not an atomkit region)");
    }
    if (seen != detail::shm::ready_value || h.magic != detail::shm::magic || h.size != size_) {
      const std::string n = name_;
      unmap();
      detail::shm::bad_argument("region " + n + " is not an atomkit region of this version");
    }
  }

  // Under the directory lock: the live entry named key, or null.
  [[nodiscard]] entry* lookup(const std::string& key) const noexcept {
    header& h = hdr();
    for (std::uint64_t i = 0; i < h.count; ++i) {
      entry& e = h.entries[i];
      // relaxed: a failed entry stays failed; one that fails after this read is handled by the
      // caller's wait (await_object returns null for it).
      if (e.state.load(std::memory_order_relaxed) != detail::shm::failed &&
          std::strncmp(e.key, key.c_str(), sizeof e.key) == 0) {
        return &e;
      }
    }
    return nullptr;
  }

  // The object of entry e, once its constructor has finished: null if that constructor threw.
  template <class T>
  T* await_object(entry& e, const std::string& key) {
    // Written under the lock before the entry was counted; our lookup held the lock since.
    if (e.fingerprint != detail::shm::type_fingerprint<T>()) {
      detail::shm::bad_argument("region " + name_ + ": key " + detail::shm::quoted(key) +
                                " holds another type");
    }
    std::uint32_t s = 0;
    const bool ok = detail::await<process_shared>(
        e.state, e.sleepers,
        [&] {
          // acquire: pairs with the constructor's release store of ready: the object is visible.
          s = e.state.load(std::memory_order_acquire);
          return s != detail::shm::constructing ? detail::attempt::success()
                                                : detail::attempt::retry(s);
        },
        detail::deadline::after(detail::shm::wait_limit), detail::sharing_of<process_shared>);
    if (!ok) {
      detail::shm::fail(std::errc::timed_out, "region " + name_ + ": object " +
                                                  detail::shm::quoted(key) +
                                                  " is still under construction after 1 s");
    }
    if (s != detail::shm::ready) return nullptr;
    return std::launder(reinterpret_cast<T*>(static_cast<unsigned char*>(base_) + e.offset));
  }

  template <class T, class... Args>
  static std::size_t bytes_of(Args&... args) {
    if constexpr (detail::shm::self_placing<T, Args...>) {
      return T::bytes_for(args...);
    } else {
      return sizeof(T);
    }
  }

  // construct (or_find false) and find_or_construct (true).
  template <class T, class... Args>
  T& make(const std::string& key, bool or_find, Args&&... args) {
    static_assert(alignof(T) <= detail::shm::max_alignment,
                  "atomkit::shared_memory: alignment beyond a page");
    static_assert(!std::is_array_v<T>, "atomkit::shared_memory: wrap arrays in std::array");
    check_key(key);
    const std::size_t bytes = bytes_of<T>(args...);  // may throw (bytes_for checks its input)
    for (;;) {
      header& h = hdr();
      entry* e = nullptr;
      std::uint64_t offset = 0;
      {
        const lock_guard g(h.lock, name_);
        e = lookup(key);
        if (e == nullptr) {  // claim throws when the region or its directory is full
          offset = claim(h, key, bytes, alignof(T), detail::shm::type_fingerprint<T>(), e);
        }
      }
      if (offset == 0) {  // the key was there
        if (!or_find) {
          detail::shm::fail(std::errc::file_exists,
                            "region " + name_ + ": key " + detail::shm::quoted(key) + " is taken");
        }
        if (T* obj = await_object<T>(*e, key)) return *obj;
        continue;  // its constructor threw: the key is free again
      }
      return build<T>(*e, offset, std::forward<Args>(args)...);
    }
  }

  // Under the lock: a new entry for key with `bytes` bytes at a fresh offset (returned), marked
  // constructing. not_enough_memory when the region or the directory is full (the caller's guard
  // releases the lock as the exception leaves).
  std::uint64_t claim(header& h, const std::string& key, std::size_t bytes, std::size_t align,
                      std::uint64_t fingerprint, entry*& out) {
    const std::uint64_t size = h.size;
    const std::uint64_t used = h.used;  // <= size, and size <= PTRDIFF_MAX: no wrap below
    const std::uint64_t offset = (used + align - 1) / align * align;
    if (h.count == detail::shm::max_entries || offset > size || bytes > size - offset) {
      const std::string why =
          h.count == detail::shm::max_entries
              ? "its directory is full (" + std::to_string(detail::shm::max_entries) + " entries)"
              : "it is full (" + std::to_string(bytes) + " bytes needed, " +
                    std::to_string(size - used) + " free)";
      detail::shm::fail(std::errc::not_enough_memory,
                        "region " + name_ + ": no room for " + detail::shm::quoted(key) + ": " +
                            why);
    }
    entry& e = h.entries[h.count];
    std::memcpy(e.key, key.c_str(), key.size() + 1);
    e.fingerprint = fingerprint;
    e.offset = offset;
    e.bytes = bytes;
    // relaxed: published by the unlock below (finders look entries up under the lock).
    e.state.store(detail::shm::constructing, std::memory_order_relaxed);
    h.count = h.count + 1;
    h.used = offset + bytes;
    out = &e;
    return offset;
  }

  template <class T, class... Args>
  T& build(entry& e, std::uint64_t offset, Args&&... args) {
    void* where = static_cast<unsigned char*>(base_) + offset;
    T* obj = nullptr;
#if ATOMKIT_EXCEPTIONS
    try {
#endif
      if constexpr (detail::shm::self_placing<T, Args...>) {
        obj = T::create_at(where, args...);
      } else {
        obj = ::new (where) T(std::forward<Args>(args)...);
      }
#if ATOMKIT_EXCEPTIONS
    } catch (...) {
      publish(e, detail::shm::failed);
      throw;
    }
#endif
    publish(e, detail::shm::ready);
    return *obj;
  }

  static void publish(entry& e, std::uint32_t state) noexcept {
    // release: pairs with the finders' acquire load: the object is visible to whoever sees ready.
    e.state.store(state, std::memory_order_release);
    detail::notify<process_shared>(e.state, e.sleepers, detail::wake_all_count,
                                   detail::sharing_of<process_shared>);
  }

  void* base_ = nullptr;
  std::size_t size_ = 0;
  std::string name_;  // for messages
};

}  // namespace atomkit
