// atomkit: the lock-order checker (include/atomkit/lock_order.hpp), the library's compiled part.
//
// Data:
//   - per thread: the stack of checked locks it holds (address, node id, rank), thread_local.
//   - nodes: one per lock address seen, in an open-addressing address table (lock-free lookup)
//     and a dense record array (rank, flags, name, where it was first taken).
//   - edges: one per ordered pair (held, taken) seen, in an open-addressing table keyed by the two
//     node ids (lock-free lookup) and a dense record array (where the order was first taken, the
//     adjacency list used by the cycle search).
// Writers (new nodes, new edges, names, ranks, destruction) hold `g_mutex`, a std::mutex: never an
// atomkit lock, and never held while a user's handler runs. Readers on the hot path take no lock:
// a table slot's key is published last, with a release store, after everything it points to.
//
// Hot path (enabled, order already seen): the address lookup of the new lock, then for each held
// lock one lookup of the (held, new) pair; no lock, no allocation, no stack capture.
#include <atomkit/lock_order.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <unistd.h>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace atomkit::detail::lock_order_hook {
namespace {

constexpr std::size_t max_frames = 24;
constexpr std::size_t max_held = 64;
constexpr std::size_t default_max_locks = std::size_t{1} << 14;
constexpr std::size_t default_max_orders = std::size_t{1} << 15;
constexpr std::uint32_t no_group = std::numeric_limits<std::uint32_t>::max();
constexpr std::uintptr_t tombstone = 1;  // an address slot whose lock was destroyed
static_assert(alignof(std::max_align_t) > 1, "tombstone must not be a lock's address");

struct stack_trace {
  std::array<void*, max_frames> pc{};  // the first `size` are valid
  std::size_t size = 0;
};

// Captures the calling thread's stack, starting at the frame that returns to `site` (the caller of
// the hook), so that the checker's own frames are left out.
ATOMKIT_NOINLINE stack_trace capture(const void* site) noexcept {
  std::array<void*, max_frames + 8> raw{};
  const int n = ::backtrace(raw.data(), static_cast<int>(raw.size()));
  std::size_t first = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    if (raw[i] == site) {
      first = i;
      break;
    }
  }
  stack_trace s;
  for (std::size_t i = first; i < static_cast<std::size_t>(n) && s.size < max_frames; ++i) {
    s.pc[s.size++] = raw[i];
  }
  return s;
}

// Node flags.
constexpr std::uint32_t node_dead = 1;       // its lock was destroyed
constexpr std::uint32_t node_has_stack = 2;  // `first` holds where it was first taken
// Edge-slot flags.
constexpr std::uint32_t edge_rank_reported = 1;

struct node {
  std::atomic<std::uint64_t> rank{0};   // rank + 1; 0: none. Written under g_mutex.
  std::atomic<std::uint32_t> flags{0};  // node_* bits. Written under g_mutex.
  // Under g_mutex:
  const void* address = nullptr;
  std::int32_t first_out = -1;  // first edge leaving this node, or -1
  std::uint32_t visited = 0;    // cycle-search generation
  std::int32_t via = -1;        // cycle search: the edge by which it was reached
  std::string name;
  stack_trace first;  // where it was first taken (valid once node_has_stack is set)
};

struct edge {  // under g_mutex
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  std::int32_t next_out = -1;  // next edge leaving `from`
  stack_trace where;           // where `to` was first taken while `from` was held
};

struct address_slot {
  std::atomic<std::uintptr_t> address{0};  // 0: empty; tombstone: destroyed; published last
  std::atomic<std::uint32_t> id{0};
  // 1 once the node records where it was first taken (its node_has_stack, copied here so that
  // the hot path reads one line per lock). Written under g_mutex; read as a hint.
  std::atomic<std::uint32_t> ready{0};
};

struct edge_slot {
  std::atomic<std::uint64_t> key{0};  // (from << 32) | to; 0: empty; published last
  std::atomic<std::uint32_t> index{0};
  std::atomic<std::uint32_t> flags{0};
};

std::size_t pow2_at_least(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// Fibonacci hashing, folded: one multiply spreads the (aligned) low bits of an address or a key
// over the word, the fold brings the high bits down to the masked ones.
std::uint64_t mix(std::uint64_t x) noexcept {
  const std::uint64_t h = x * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}

struct tables {
  tables(std::size_t locks, std::size_t orders)
      : max_locks(locks),
        max_orders(orders),
        address_mask(pow2_at_least(locks * 2) - 1),
        edge_mask(pow2_at_least(orders * 2) - 1),
        addresses(new address_slot[address_mask + 1]),
        nodes(new node[max_locks + 1]),  // id 0 is "none"
        edge_slots(new edge_slot[edge_mask + 1]),
        edges(new edge[max_orders]),
        reported(new std::uint64_t[edge_mask + 1]()),
        search(new std::uint32_t[max_locks + 1]) {}

  const std::size_t max_locks;
  const std::size_t max_orders;
  const std::size_t address_mask;  // address table: twice max_locks slots, a power of two
  const std::size_t edge_mask;     // edge table: twice max_orders slots, a power of two
  std::unique_ptr<address_slot[]> addresses;
  std::unique_ptr<node[]> nodes;
  std::unique_ptr<edge_slot[]> edge_slots;
  std::unique_ptr<edge[]> edges;
  std::unique_ptr<std::uint64_t[]> reported;  // pairs reported (set keyed like edges; g_mutex)
  std::unique_ptr<std::uint32_t[]> search;    // cycle-search work stack (g_mutex)

  // Under g_mutex:
  std::size_t node_count = 0;
  std::size_t address_used = 0;  // slots not empty (tombstones included)
  std::size_t edge_count = 0;
  std::size_t reported_count = 0;
  std::uint32_t generation = 0;
  bool said_locks_full = false;
  std::atomic<bool> locks_full{false};  // set (under g_mutex) when a lock found no room
  bool said_orders_full = false;
  bool said_reports_full = false;

  // Lock-free lookups (any thread).
  [[nodiscard]] address_slot* find_slot(const void* lock) const noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(lock);
    // Ends: add_node keeps at least a quarter of the slots empty.
    for (std::size_t i = mix(a) & address_mask;; i = (i + 1) & address_mask) {
      // acquire: pairs with the release store in add_node: the slot's id is visible.
      const std::uintptr_t seen = addresses[i].address.load(std::memory_order_acquire);
      if (seen == 0) return nullptr;
      if (seen == a) return &addresses[i];
    }
  }
  [[nodiscard]] std::uint32_t find_node(const void* lock) const noexcept {
    const address_slot* slot = find_slot(lock);
    // relaxed: ordered by find_slot's acquire load.
    return slot == nullptr ? 0 : slot->id.load(std::memory_order_relaxed);
  }
  [[nodiscard]] edge_slot* find_edge(std::uint64_t key) const noexcept {
    // Ends: add_edge fills at most half of the slots (max_orders of twice as many).
    for (std::size_t i = mix(key) & edge_mask;; i = (i + 1) & edge_mask) {
      // acquire: pairs with the release store in add_edge: the slot's index and the edge
      // record are visible.
      const std::uint64_t seen = edge_slots[i].key.load(std::memory_order_acquire);
      if (seen == 0) return nullptr;
      if (seen == key) return &edge_slots[i];
    }
  }
};

std::mutex g_mutex;                            // writers of the tables (see file comment)
std::atomic<tables*> g_tables{nullptr};        // set once (reset_for_tests replaces it)
std::atomic<lock_order::handler> g_handler{nullptr};
std::atomic<bool> g_abort{false};
std::atomic<std::size_t> g_inversions{0};
std::atomic<bool> g_ranked{false};  // set_rank was called: the hot path reads ranks

struct held_lock {
  const void* address = nullptr;
  std::uint32_t id = 0;    // 0: not tracked (tables full)
  std::uint64_t rank = 0;  // rank + 1 when taken; 0: none
};

struct thread_state {
  std::uint64_t epoch = 0;
  std::uint32_t depth = 0;
  std::uint32_t group_base = no_group;  // held[group_base..] were taken inside a group scope
  bool busy = false;                    // inside the checker's slow path or a handler
  bool said_too_deep = false;
  std::array<held_lock, max_held> held{};
};
// constinit: no lazy initialization guard on the hot path.
constinit thread_local thread_state t_state{};

std::uint64_t edge_key(std::uint32_t from, std::uint32_t to) noexcept {
  return (std::uint64_t{from} << 32) | to;
}

void say(const char* text) noexcept { std::fputs(text, stderr); }

// The thread's stack belongs to an older epoch (the checker was switched off or on since): drop it.
void sync_epoch(thread_state& t) noexcept {
  // relaxed: the word's own coherence suffices; see the hook header.
  const std::uint64_t epoch = state.load(std::memory_order_relaxed) >> epoch_shift;
  if (t.epoch != epoch) {
    t.epoch = epoch;
    t.depth = 0;
    if (t.group_base != no_group) t.group_base = 0;
  }
}

// ---- registration (under g_mutex) ----

std::uint32_t add_node(tables& tb, const void* lock) {
  if (std::uint32_t id = tb.find_node(lock)) return id;
  if (tb.node_count >= tb.max_locks || (tb.address_used + 1) * 4 > (tb.address_mask + 1) * 3) {
    tb.locks_full.store(true, std::memory_order_relaxed);  // relaxed: a hint for first_acquisition
    if (!tb.said_locks_full) {
      tb.said_locks_full = true;
      std::fprintf(stderr,
                   "atomkit lock_order: the lock table is full (%zu locks): locks not seen before "
                   "are no longer checked; the orders already known still are\n",
                   tb.max_locks);
    }
    return 0;
  }
  const auto id = static_cast<std::uint32_t>(++tb.node_count);
  node& n = tb.nodes[id];
  n.address = lock;
  const auto a = reinterpret_cast<std::uintptr_t>(lock);
  std::size_t i = mix(a) & tb.address_mask;
  // relaxed: only writers (under g_mutex) fill slots.
  while (tb.addresses[i].address.load(std::memory_order_relaxed) != 0) i = (i + 1) & tb.address_mask;
  ++tb.address_used;
  tb.addresses[i].id.store(id, std::memory_order_relaxed);  // relaxed: published by the next store
  // release: pairs with the acquire load in find_node.
  tb.addresses[i].address.store(a, std::memory_order_release);
  return id;
}

// Adds from -> to; false when the table is full.
bool add_edge(tables& tb, std::uint32_t from, std::uint32_t to, const stack_trace& where,
              std::uint32_t flags) {
  if (tb.edge_count >= tb.max_orders) {
    if (!tb.said_orders_full) {
      tb.said_orders_full = true;
      std::fprintf(stderr,
                   "atomkit lock_order: the order table is full (%zu orders): new orders are no "
                   "longer recorded; the orders already known are still checked\n",
                   tb.max_orders);
    }
    return false;
  }
  const auto index = static_cast<std::uint32_t>(tb.edge_count++);
  edge& e = tb.edges[index];
  e.from = from;
  e.to = to;
  e.where = where;
  e.next_out = tb.nodes[from].first_out;
  tb.nodes[from].first_out = static_cast<std::int32_t>(index);
  const std::uint64_t key = edge_key(from, to);
  std::size_t i = mix(key) & tb.edge_mask;
  // relaxed: only writers (under g_mutex) fill slots.
  while (tb.edge_slots[i].key.load(std::memory_order_relaxed) != 0) i = (i + 1) & tb.edge_mask;
  tb.edge_slots[i].index.store(index, std::memory_order_relaxed);  // relaxed: published below
  tb.edge_slots[i].flags.store(flags, std::memory_order_relaxed);  // relaxed: published below
  // release: pairs with the acquire load in find_edge.
  tb.edge_slots[i].key.store(key, std::memory_order_release);
  return true;
}

// Records that the pair `key` was reported; false if it already was (or no room is left, after
// saying so once).
bool first_report(tables& tb, std::uint64_t key) {
  std::size_t i = mix(key) & tb.edge_mask;
  while (tb.reported[i] != 0) {
    if (tb.reported[i] == key) return false;
    i = (i + 1) & tb.edge_mask;
  }
  if ((tb.reported_count + 1) * 2 > tb.edge_mask + 1) {
    if (!tb.said_reports_full) {
      tb.said_reports_full = true;
      say("atomkit lock_order: the table of reported pairs is full: no new reports\n");
    }
    return false;
  }
  ++tb.reported_count;
  tb.reported[i] = key;
  return true;
}

// Depth-first search for a path from -> ... -> to over live nodes; fills `path` with its edge
// indices in order. Bounded by the number of nodes (each is visited once).
bool find_path(tables& tb, std::uint32_t from, std::uint32_t to, std::vector<std::uint32_t>& path) {
  const std::uint32_t gen = ++tb.generation;
  std::size_t top = 0;
  tb.search[top++] = from;
  tb.nodes[from].visited = gen;
  tb.nodes[from].via = -1;
  while (top > 0) {
    const std::uint32_t u = tb.search[--top];
    for (std::int32_t e = tb.nodes[u].first_out; e >= 0; e = tb.edges[e].next_out) {
      const std::uint32_t v = tb.edges[e].to;
      node& nv = tb.nodes[v];
      // relaxed: flags are written under g_mutex, which we hold.
      if (nv.visited == gen || (nv.flags.load(std::memory_order_relaxed) & node_dead)) continue;
      nv.visited = gen;
      nv.via = e;
      if (v == to) {
        for (std::uint32_t w = to; w != from;) {
          const auto via = static_cast<std::uint32_t>(tb.nodes[w].via);
          path.push_back(via);
          w = tb.edges[via].from;
        }
        std::reverse(path.begin(), path.end());
        return true;
      }
      tb.search[top++] = v;
    }
  }
  return false;
}

// ---- reports (built under g_mutex, symbolized and delivered outside it) ----

std::string label(const tables& tb, std::uint32_t id) {
  const node& n = tb.nodes[id];
  char address[32];
  std::snprintf(address, sizeof address, "%p", n.address);
  if (n.name.empty()) return std::string("lock ") + address;
  return "\"" + n.name + "\" (" + address + ")";
}

struct pending_report {
  const void* first = nullptr;
  const void* second = nullptr;
  std::string headline;
  struct path {
    std::string title;
    stack_trace trace;
  };
  std::vector<path> paths;
};

struct module_of {
  std::uintptr_t pc = 0;
  std::string file;
  std::uintptr_t base = 0;
  bool found = false;
};

int find_module(dl_phdr_info* info, std::size_t, void* data) {
  auto* m = static_cast<module_of*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (m->pc >= start && m->pc < start + ph.p_memsz) {
      m->base = info->dlpi_addr;
      if (info->dlpi_name != nullptr && info->dlpi_name[0] != '\0') {
        m->file = info->dlpi_name;
      } else {  // the program itself; a child (addr2line) would read its own /proc/self/exe
        std::array<char, 4096> path{};
        const ssize_t n = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
        m->file = n > 0 ? std::string(path.data(), static_cast<std::size_t>(n)) : std::string();
      }
      m->found = true;
      return 1;
    }
  }
  return 0;
}

std::string fallback_frame(void* pc, const module_of& m) {
  char buf[64];
  Dl_info info{};
  if (::dladdr(pc, &info) != 0 && info.dli_sname != nullptr) {
    int status = 0;
    char* demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
    std::string name = (status == 0 && demangled != nullptr) ? demangled : info.dli_sname;
    std::free(demangled);  // NOLINT(cppcoreguidelines-no-malloc): __cxa_demangle's result
    std::snprintf(buf, sizeof buf, "+0x%zx", static_cast<std::size_t>(
                                                 static_cast<char*>(pc) -
                                                 static_cast<char*>(info.dli_saddr)));
    return name + buf;
  }
  std::snprintf(buf, sizeof buf, "%p", pc);
  if (!m.found) return buf;
  char off[40];
  std::snprintf(off, sizeof off, "+0x%zx", static_cast<std::size_t>(
                                              reinterpret_cast<std::uintptr_t>(pc) - m.base));
  return std::string(buf) + " in " + m.file + off;
}

bool shell_safe(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::strchr("/._-+@", c) != nullptr;
  });
}

// One addr2line run per module; returns one text per frame (inlined callers on extra lines).
std::vector<std::string> symbolize(const stack_trace& s) {
  std::vector<std::string> out(s.size);
  std::vector<module_of> mods(s.size);
  std::map<std::string, std::vector<std::size_t>> by_file;
  for (std::size_t i = 0; i < s.size; ++i) {
    // A return address: look up the call instruction before it.
    mods[i].pc = reinterpret_cast<std::uintptr_t>(s.pc[i]) - 1;
    dl_iterate_phdr(find_module, &mods[i]);
    if (mods[i].found && !mods[i].file.empty() && shell_safe(mods[i].file)) by_file[mods[i].file].push_back(i);
  }
  for (const auto& [file, frames] : by_file) {
    std::string cmd = "addr2line -C -f -i -p -a -e '" + file + "'";
    char buf[40];
    for (std::size_t i : frames) {
      std::snprintf(buf, sizeof buf, " 0x%zx", static_cast<std::size_t>(mods[i].pc - mods[i].base));
      cmd += buf;
    }
    cmd += " 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) continue;
    std::vector<std::string> texts;
    char line[1024];
    while (std::fgets(line, sizeof line, p) != nullptr) {
      std::string l(line);
      while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
      if (l.rfind("0x", 0) == 0) {
        const std::size_t colon = l.find(": ");
        texts.push_back(colon == std::string::npos ? l : l.substr(colon + 2));
      } else if (!texts.empty()) {
        texts.back() += "\n        " + l.substr(l.find_first_not_of(' '));
      }
    }
    const int rc = ::pclose(p);
    if (rc != 0 || texts.size() != frames.size()) continue;
    for (std::size_t k = 0; k < frames.size(); ++k) {
      // No line information (a library without debug information): addr2line's name is then
      // only the nearest symbol it found; dladdr's symbol + offset below says as much.
      if (texts[k].rfind("??", 0) != 0 && texts[k].find(" at ??:") == std::string::npos) {
        out[frames[k]] = texts[k];
      }
    }
  }
  for (std::size_t i = 0; i < s.size; ++i) {
    if (out[i].empty()) out[i] = fallback_frame(s.pc[i], mods[i]);
  }
  return out;
}

void deliver(const pending_report& r) {
  // Every path's frames in one symbolization: one addr2line run per module for the report.
  stack_trace all;
  std::vector<std::string> frames;
  for (const auto& p : r.paths) {
    for (std::size_t i = 0; i < p.trace.size; ++i) {
      all.pc[all.size++] = p.trace.pc[i];
      if (all.size == max_frames) {
        for (auto& f : symbolize(all)) frames.push_back(std::move(f));
        all.size = 0;
      }
    }
  }
  for (auto& f : symbolize(all)) frames.push_back(std::move(f));
  std::string text = "atomkit lock_order: " + r.headline + "\n";
  std::size_t next = 0;
  for (const auto& p : r.paths) {
    text += "  " + p.title + "\n";
    if (p.trace.size == 0) text += "    (no stack recorded)\n";
    for (std::size_t i = 0; i < p.trace.size; ++i) {
      text += "    #" + std::to_string(i) + " " + frames[next++] + "\n";
    }
  }
  // relaxed: a statistic; the report itself is delivered below on this thread.
  g_inversions.fetch_add(1, std::memory_order_relaxed);
  const lock_order::inversion inv{r.first, r.second, std::move(text)};
  // acquire: pairs with the release exchange in set_handler: the handler's code and data.
  const lock_order::handler h = g_handler.load(std::memory_order_acquire);
  if (h != nullptr) {
    h(inv);
  } else {
    say(inv.text.c_str());
  }
  // relaxed: set by enable(); a switch read as it stands.
  if (g_abort.load(std::memory_order_relaxed)) std::abort();
}

tables* get_tables() noexcept {
  // acquire: pairs with the release store in ensure_tables: the tables' contents.
  return g_tables.load(std::memory_order_acquire);
}

// Under g_mutex: the tables, allocated on first use. nullptr if allocation failed (said once).
tables* ensure_tables(std::size_t locks, std::size_t orders) noexcept {
  if (tables* tb = get_tables()) return tb;
  tables* tb = nullptr;
#if ATOMKIT_EXCEPTIONS
  try {
    tb = new tables(locks, orders);
  } catch (const std::bad_alloc&) {
    say("atomkit lock_order: cannot allocate the checker's tables: not checking\n");
    return nullptr;
  }
#else
  tb = new tables(locks, orders);
#endif
  // release: pairs with the acquire load in get_tables.
  g_tables.store(tb, std::memory_order_release);
  // relaxed: destroyed() finds the tables through g_tables' own acquire load.
  state.fetch_or(tables_bit, std::memory_order_relaxed);
  return tb;
}

// The slow path for the held lock `h` and the new lock `id`: a pair not in the edge table, or a
// rank violation not yet reported. Called with t.busy set; takes g_mutex.
ATOMKIT_NOINLINE void check_pair(tables& tb, const held_lock& h, std::uint32_t id,
                                 std::uint64_t rank, const void* lock, const void* site) noexcept {
  std::vector<pending_report> reports;
  stack_trace now;
  bool captured = false;
  {
    const std::lock_guard<std::mutex> g(g_mutex);
    auto current = [&]() -> const stack_trace& {
      if (!captured) {
        now = capture(site);
        captured = true;
      }
      return now;
    };
    edge_slot* slot = tb.find_edge(edge_key(h.id, id));
    const bool rank_bad = h.rank != 0 && rank != 0 && rank <= h.rank;
    // relaxed: written under g_mutex, which we hold.
    if (rank_bad && (slot == nullptr ||
                     (slot->flags.load(std::memory_order_relaxed) & edge_rank_reported) == 0)) {
      if (slot != nullptr) {
        slot->flags.fetch_or(edge_rank_reported, std::memory_order_relaxed);  // relaxed: a hint
      }
      // Pairs without an edge (table full) are deduplicated in the reported set; tag bit 63.
      if (slot != nullptr || first_report(tb, edge_key(h.id, id) | (std::uint64_t{1} << 63))) {
        pending_report r;
        r.first = h.address;
        r.second = lock;
        r.headline = "lock rank violation: " + label(tb, id) + " (rank " +
                     std::to_string(rank - 1) + ") taken while holding " + label(tb, h.id) +
                     " (rank " + std::to_string(h.rank - 1) + ")";
        r.paths.push_back({label(tb, id) + " taken now, here:", current()});
        const node& held = tb.nodes[h.id];
        r.paths.push_back({label(tb, h.id) + " (held) was first taken here:",
                           (held.flags.load(std::memory_order_relaxed) & node_has_stack)
                               ? held.first
                               : stack_trace{}});
        reports.push_back(std::move(r));
      }
    }
    if (slot == nullptr) {
      std::vector<std::uint32_t> path;
      if (find_path(tb, id, h.id, path) &&
          first_report(tb, edge_key(std::min(h.id, id), std::max(h.id, id)))) {
        pending_report r;
        r.first = h.address;
        r.second = lock;
        r.headline = "lock-order inversion (potential deadlock): " + label(tb, id) +
                     " taken while holding " + label(tb, h.id) +
                     ", but the reverse order was seen before";
        r.paths.push_back(
            {"now: " + label(tb, id) + " taken while holding " + label(tb, h.id) + ", here:",
             current()});
        for (std::uint32_t e : path) {
          const edge& ed = tb.edges[e];
          r.paths.push_back({"earlier: " + label(tb, ed.to) + " taken while holding " +
                                 label(tb, ed.from) + ", here:",
                             ed.where});
        }
        reports.push_back(std::move(r));
      }
      add_edge(tb, h.id, id, current(), rank_bad ? edge_rank_reported : 0);
    }
  }
  for (const auto& r : reports) deliver(r);
}

}  // namespace

namespace {

// First acquisition of a lock while checking: registers it and records where it was taken.
ATOMKIT_NOINLINE std::uint32_t first_acquisition(thread_state& t, tables& tb, const void* lock,
                                                 const void* site) noexcept {
  // relaxed: a hint. A full lock table never empties: skip the stack capture for locks it will
  // not take (they are looked up again under g_mutex below, in case one was added meanwhile).
  if (tb.locks_full.load(std::memory_order_relaxed)) return tb.find_node(lock);
  t.busy = true;
  const stack_trace first = capture(site);
  std::uint32_t id = 0;
  {
    const std::lock_guard<std::mutex> g(g_mutex);
    id = add_node(tb, lock);
    // relaxed: flags are written under g_mutex, which we hold.
    if (id != 0 && (tb.nodes[id].flags.load(std::memory_order_relaxed) & node_has_stack) == 0) {
      tb.nodes[id].first = first;
      // relaxed: read under g_mutex for reports; the hot path reads it only as a hint.
      tb.nodes[id].flags.fetch_or(node_has_stack, std::memory_order_relaxed);
      tb.find_slot(lock)->ready.store(1, std::memory_order_relaxed);  // relaxed: as above
    }
  }
  t.busy = false;
  return id;
}

ATOMKIT_NOINLINE void too_deep(thread_state& t) noexcept {
  if (!t.said_too_deep) {
    t.said_too_deep = true;
    say("atomkit lock_order: a thread holds more than 64 checked locks: the ones beyond are not "
        "checked\n");
  }
}

}  // namespace

namespace {

// Everything acquired() does, for the acquisitions its fast path does not finish: a new epoch,
// a lock not yet recorded, ranks in use, a pair not yet known or a rank violation, a full stack.
ATOMKIT_NOINLINE void acquire_slow(thread_state& t, tables* const tb, const void* lock,
                                   const void* site) noexcept {
  sync_epoch(t);
  const address_slot* slot_of_lock = tb->find_slot(lock);
  std::uint32_t id = 0;
  // relaxed (ready): a hint; the slow path re-reads under g_mutex. relaxed (id): ordered by
  // find_slot's acquire load.
  if (ATOMKIT_LIKELY(slot_of_lock != nullptr) &&
      ATOMKIT_LIKELY(slot_of_lock->ready.load(std::memory_order_relaxed) != 0)) {
    id = slot_of_lock->id.load(std::memory_order_relaxed);
  } else {
    id = first_acquisition(t, *tb, lock, site);
  }
  std::uint64_t rank = 0;
  if (ATOMKIT_LIKELY(id != 0)) {
    // relaxed: a rank set while this lock is being taken may or may not apply to this
    // acquisition; ranks are read only once any has been set.
    if (ATOMKIT_UNLIKELY(g_ranked.load(std::memory_order_relaxed))) {
      rank = tb->nodes[id].rank.load(std::memory_order_relaxed);
    }
    const std::uint32_t n = std::min(t.depth, t.group_base);
    for (std::uint32_t i = 0; i < n; ++i) {
      const held_lock& h = t.held[i];
      if (ATOMKIT_UNLIKELY(h.id == 0 || h.id == id)) continue;
      const edge_slot* slot = tb->find_edge(edge_key(h.id, id));
      const bool rank_bad = h.rank != 0 && rank != 0 && rank <= h.rank;
      // relaxed: a hint; the slow path re-checks under g_mutex.
      if (ATOMKIT_LIKELY(slot != nullptr) &&
          (!rank_bad || (slot->flags.load(std::memory_order_relaxed) & edge_rank_reported))) {
        continue;
      }
      t.busy = true;
      check_pair(*tb, h, id, rank, lock, site);
      t.busy = false;
    }
  }
  if (ATOMKIT_UNLIKELY(t.depth == max_held)) {
    too_deep(t);
    return;
  }
  t.held[t.depth++] = held_lock{lock, id, rank};
}

}  // namespace

void acquired(const void* lock) noexcept {
  thread_state& t = t_state;
  tables* const tb = get_tables();
  if (ATOMKIT_UNLIKELY(t.busy || tb == nullptr)) return;
  // The fast path: an order already seen. It calls nothing (no registers to save); anything else
  // goes to acquire_slow, which starts over.
  // relaxed: the word's own coherence suffices (see sync_epoch).
  const std::uint64_t epoch = state.load(std::memory_order_relaxed) >> epoch_shift;
  const address_slot* slot_of_lock = tb->find_slot(lock);
  // relaxed (ranked, ready): hints, re-read by the slow path; relaxed (id): ordered by
  // find_slot's acquire load.
  if (ATOMKIT_UNLIKELY(t.epoch != epoch || slot_of_lock == nullptr ||
                       slot_of_lock->ready.load(std::memory_order_relaxed) == 0 ||
                       g_ranked.load(std::memory_order_relaxed) || t.depth == max_held)) {
    return acquire_slow(t, tb, lock, __builtin_return_address(0));
  }
  const std::uint32_t id = slot_of_lock->id.load(std::memory_order_relaxed);
  const std::uint32_t n = std::min(t.depth, t.group_base);
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t held = t.held[i].id;
    if (ATOMKIT_UNLIKELY(held == 0 || held == id)) continue;
    if (ATOMKIT_UNLIKELY(tb->find_edge(edge_key(held, id)) == nullptr)) {
      return acquire_slow(t, tb, lock, __builtin_return_address(0));
    }
  }
  t.held[t.depth++] = held_lock{lock, id, 0};
}

namespace {

ATOMKIT_NOINLINE void release_not_on_top(thread_state& t, const void* lock) noexcept {
  sync_epoch(t);
  for (std::uint32_t i = t.depth; i-- > 0;) {
    if (t.held[i].address != lock) continue;
    for (std::uint32_t k = i + 1; k < t.depth; ++k) t.held[k - 1] = t.held[k];
    --t.depth;
    if (t.group_base != no_group && i < t.group_base) --t.group_base;
    return;
  }
}

}  // namespace

void released(const void* lock) noexcept {
  thread_state& t = t_state;
  if (ATOMKIT_UNLIKELY(t.busy)) return;
  // Locks are mostly released in reverse order: the top of the stack. (A stack left from an
  // older epoch may lose its top here; the next acquisition drops it whole anyway.)
  const std::uint32_t d = t.depth;
  if (ATOMKIT_LIKELY(d != 0 && t.held[d - 1].address == lock)) {
    t.depth = d - 1;
    // group_base <= depth always; a lock held before the group is released inside it.
    if (ATOMKIT_UNLIKELY(t.group_base != no_group && t.group_base >= d)) t.group_base = d - 1;
    return;
  }
  release_not_on_top(t, lock);
}

void destroyed(const void* lock) noexcept {
  tables* tb = get_tables();
  if (tb == nullptr || tb->find_node(lock) == 0) return;
  const std::lock_guard<std::mutex> g(g_mutex);
  const auto a = reinterpret_cast<std::uintptr_t>(lock);
  for (std::size_t i = mix(a) & tb->address_mask;; i = (i + 1) & tb->address_mask) {
    // relaxed: writers hold g_mutex.
    const std::uintptr_t seen = tb->addresses[i].address.load(std::memory_order_relaxed);
    if (seen == 0) return;
    if (seen != a) continue;
    const std::uint32_t id = tb->addresses[i].id.load(std::memory_order_relaxed);
    node& n = tb->nodes[id];
    n.flags.fetch_or(node_dead, std::memory_order_relaxed);  // relaxed: read under g_mutex
    n.name.clear();
    n.name.shrink_to_fit();
    // release: as in add_node (a reader that finds the tombstone needs nothing else).
    tb->addresses[i].address.store(tombstone, std::memory_order_release);
    return;
  }
}

std::uint32_t group_begin() noexcept {
  thread_state& t = t_state;
  sync_epoch(t);
  const std::uint32_t saved = t.group_base;
  t.group_base = std::min(t.group_base, t.depth);
  return saved;
}

void group_end(std::uint32_t saved) noexcept { t_state.group_base = saved; }

void reset_for_tests(std::size_t max_locks, std::size_t max_orders) noexcept {
  const std::lock_guard<std::mutex> g(g_mutex);
  lock_order::disable();
  delete g_tables.exchange(nullptr, std::memory_order_acq_rel);  // acq_rel: see get_tables
  ensure_tables(max_locks, max_orders);
  g_abort.store(false, std::memory_order_relaxed);  // relaxed: see deliver
}

}  // namespace atomkit::detail::lock_order_hook

namespace atomkit::lock_order {

namespace hook = detail::lock_order_hook;

namespace {
// Sets or clears the checking bit and advances the epoch, in one atomic step.
void switch_checking(bool on) noexcept {
  // relaxed: the hot path needs only this word's coherence (see the hook header); the tables
  // are reached through g_tables' acquire load.
  std::uint64_t s = hook::state.load(std::memory_order_relaxed);
  std::uint64_t next = 0;
  do {
    next = (((s >> hook::epoch_shift) + 1) << hook::epoch_shift) | (s & hook::tables_bit) |
           (on ? hook::checking_bit : 0);
  } while (!hook::state.compare_exchange_weak(s, next, std::memory_order_relaxed));
}
}  // namespace

void enable(action a) noexcept {
  {
    const std::lock_guard<std::mutex> g(hook::g_mutex);
    if (hook::ensure_tables(hook::default_max_locks, hook::default_max_orders) == nullptr) return;
  }
  // Loads the unwinder now rather than inside the first report.
  void* warm[2];
  ::backtrace(warm, 2);
  hook::g_abort.store(a == action::abort, std::memory_order_relaxed);  // relaxed: see deliver
  switch_checking(true);
}

void disable() noexcept { switch_checking(false); }

handler set_handler(handler h) noexcept {
  // acq_rel: release pairs with the acquire load in deliver; acquire returns a usable previous one.
  return hook::g_handler.exchange(h, std::memory_order_acq_rel);
}

void set_name(const void* lock, std::string_view name) {
  const std::lock_guard<std::mutex> g(hook::g_mutex);
  hook::tables* tb = hook::ensure_tables(hook::default_max_locks, hook::default_max_orders);
  if (tb == nullptr) return;
  if (const std::uint32_t id = hook::add_node(*tb, lock)) tb->nodes[id].name.assign(name);
}

void set_rank(const void* lock, unsigned rank) {
  const std::lock_guard<std::mutex> g(hook::g_mutex);
  hook::tables* tb = hook::ensure_tables(hook::default_max_locks, hook::default_max_orders);
  if (tb == nullptr) return;
  if (const std::uint32_t id = hook::add_node(*tb, lock)) {
    // relaxed: see acquired().
    tb->nodes[id].rank.store(std::uint64_t{rank} + 1, std::memory_order_relaxed);
    hook::g_ranked.store(true, std::memory_order_relaxed);  // relaxed: see acquired()
  }
}

std::size_t inversions() noexcept {
  return hook::g_inversions.load(std::memory_order_relaxed);  // relaxed: a statistic
}

}  // namespace atomkit::lock_order
