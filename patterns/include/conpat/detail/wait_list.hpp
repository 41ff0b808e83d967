// conpat/detail/wait_list.hpp — an intrusive FIFO of waiting operations,
// each on its waiter's stack, for the channel flavours' parked senders and
// receivers. A node has `next`, `prev` and `linked`; `linked` is true
// exactly while the node is in a list. Guarded by its owner's lock.
#pragma once

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

  // Requires n in this list.
  void remove(Node* n) noexcept {
    (n->prev != nullptr ? n->prev->next : head) = n->next;
    (n->next != nullptr ? n->next->prev : tail) = n->prev;
    n->next = n->prev = nullptr;
    n->linked = false;
  }
};

}  // namespace conpat::detail
