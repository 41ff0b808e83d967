// conpat/padding.hpp — the cache-line size conpat pads to, Padded<T>, and
// the layout policies (layout::Packed, layout::Padded) that rings and
// collectors take as a template parameter, so a packed and a padded variant
// are one template with two instantiations.
//
// Why pad: two threads writing different variables on one cache line make
// that line bounce between their cores (false sharing), which can cost more
// than the writes themselves.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace conpat {

// std::hardware_destructive_interference_size where the library has it,
// else 64 (the line size of every x86-64 and most AArch64 cores).
// g++ warns that the constant may change with -mtune; conpat uses it
// consistently within one build, so the warning is silenced here.
#if defined(__cpp_lib_hardware_interference_size)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winterference-size"
inline constexpr std::size_t kCacheLine = std::hardware_destructive_interference_size;
#pragma GCC diagnostic pop
#else
inline constexpr std::size_t kCacheLine = 64;
#endif

// T alone on its own cache line(s): no neighbour shares a line with it.
template <class T, std::size_t Align = kCacheLine>
struct alignas(Align) Padded {
  T value{};

  Padded() = default;
  template <class... Args>
  explicit Padded(std::in_place_t, Args&&... args) : value(std::forward<Args>(args)...) {}

  T& operator*() noexcept { return value; }
  const T& operator*() const noexcept { return value; }
  T* operator->() noexcept { return &value; }
  const T* operator->() const noexcept { return &value; }
};

namespace layout {

// Layout policies. `Cell<T>` is how one element (an index, a slot, a
// counter) is stored; `kAlign` is the alignment of that cell.
struct Packed {
  static constexpr const char* kName = "packed";
  static constexpr std::size_t kAlign = 0;  // natural alignment
  template <class T>
  struct Cell {
    T value{};
  };
};

// Padded to `Align` bytes (default: one cache line). Padded128 covers CPUs
// whose adjacent-line prefetcher pairs lines (Intel since Sandy Bridge).
template <std::size_t Align = kCacheLine>
struct PaddedTo {
  static constexpr const char* kName = Align == kCacheLine ? "padded" : "padded128";
  static constexpr std::size_t kAlign = Align;
  template <class T>
  struct alignas(Align) Cell {
    T value{};
  };
};

using Padded = PaddedTo<kCacheLine>;
using Padded128 = PaddedTo<2 * kCacheLine>;

}  // namespace layout

static_assert(sizeof(Padded<char>) == kCacheLine && alignof(Padded<char>) == kCacheLine,
              "Padded<T> must occupy whole cache lines so no neighbour shares one");
static_assert(sizeof(layout::Padded::Cell<long>) == kCacheLine,
              "padded cells must be a cache line apart to prevent false sharing");
static_assert(sizeof(layout::Packed::Cell<long>) == sizeof(long),
              "packed cells must add no padding");

}  // namespace conpat
