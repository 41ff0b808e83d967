// The counting global operator new and delete of the benchmark binary
// (alloc_count.hpp). Every replaceable form is replaced, so that no
// allocation reaches a library's operator new and is freed here, or the
// other way round.
#include "alloc_count.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace conpat::bench {
namespace {

std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocs{0}, g_bytes{0};

inline void count(std::size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(n, std::memory_order_relaxed);
  }
}

void* alloc(std::size_t n) noexcept {
  count(n);
  return std::malloc(n == 0 ? 1 : n);
}

void* alloc_aligned(std::size_t n, std::align_val_t al) noexcept {
  count(n);
  auto a = static_cast<std::size_t>(al);
  if (a < sizeof(void*)) a = sizeof(void*);
  void* p = nullptr;
  return posix_memalign(&p, a, n == 0 ? a : n) == 0 ? p : nullptr;
}

void* alloc_or_throw(std::size_t n) {
  for (;;) {
    if (void* p = alloc(n)) return p;
    std::new_handler h = std::get_new_handler();
    if (h == nullptr) throw std::bad_alloc();
    h();
  }
}

void* alloc_aligned_or_throw(std::size_t n, std::align_val_t al) {
  for (;;) {
    if (void* p = alloc_aligned(n, al)) return p;
    std::new_handler h = std::get_new_handler();
    if (h == nullptr) throw std::bad_alloc();
    h();
  }
}

}  // namespace

AllocCount::AllocCount()
    : allocs0_(g_allocs.load(std::memory_order_relaxed)), bytes0_(g_bytes.load(std::memory_order_relaxed)) {
  g_counting.store(true, std::memory_order_seq_cst);
}
AllocCount::~AllocCount() { g_counting.store(false, std::memory_order_seq_cst); }
std::uint64_t AllocCount::allocs() const { return g_allocs.load(std::memory_order_relaxed) - allocs0_; }
std::uint64_t AllocCount::bytes() const { return g_bytes.load(std::memory_order_relaxed) - bytes0_; }

}  // namespace conpat::bench

using conpat::bench::alloc_aligned;  // NOLINT: the replacements below are global
using conpat::bench::alloc_aligned_or_throw;
using conpat::bench::alloc_or_throw;

void* operator new(std::size_t n) { return alloc_or_throw(n); }
void* operator new[](std::size_t n) { return alloc_or_throw(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return conpat::bench::alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return conpat::bench::alloc(n); }
void* operator new(std::size_t n, std::align_val_t al) { return alloc_aligned_or_throw(n, al); }
void* operator new[](std::size_t n, std::align_val_t al) { return alloc_aligned_or_throw(n, al); }
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept { return alloc_aligned(n, al); }
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept { return alloc_aligned(n, al); }

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
