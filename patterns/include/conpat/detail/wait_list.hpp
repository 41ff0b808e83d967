// conpat/detail/wait_list.hpp — an intrusive FIFO of waiting operations,
// each on its waiter's stack, for the channel flavours' parked senders and
// receivers. A node has `next`, `prev` and `linked`; `linked` is true
// exactly while the node is in a list. Guarded by its owner's lock.
#pragma once

#include <type_traits>

namespace conpat::detail {

template <class Node>
struct WaitList {
  Node* head = nullptr;
  Node* tail = nullptr;

  bool empty() const noexcept { return head == nullptr; }

  void push_back(Node* n) noexcept {
    n->linked = true;
    n->next = nullptr;
    n->prev = tail;
    (tail != nullptr ? tail->next : head) = n;
    tail = n;
  }

  Node* pop_front() noexcept {
    Node* n = head;
    if (n != nullptr) remove(n);
    return n;
  }

  // Unlinks every node and pushes it onto the front of `chain` (linked
  // through `next`); returns the chain. For wake_chain once the owner's lock
  // is released.
  Node* drain(Node* chain = nullptr) noexcept {
    while (Node* n = pop_front()) {
      n->next = chain;
      chain = n;
    }
    return chain;
  }

  // Requires n in this list.
  void remove(Node* n) noexcept {
    (n->prev != nullptr ? n->prev->next : head) = n->next;
    (n->next != nullptr ? n->next->prev : tail) = n->prev;
    n->next = n->prev = nullptr;
    n->linked = false;
  }
};

// Calls before(n) and then signals kDone on each node of a chain made by
// drain(). A node's `next` is read before its signal: the waiter may return
// (and its node go out of scope) at once.
template <class Node, class Before>
void wake_chain(Node* chain, Before&& before) noexcept {
  while (chain != nullptr) {
    Node* next = chain->next;
    before(chain);
    chain->parker.signal(std::remove_reference_t<decltype(chain->parker)>::kDone);
    chain = next;
  }
}

}  // namespace conpat::detail
