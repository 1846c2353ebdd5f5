//! Small relay buffers, recycled per worker thread.
//!
//! Both relays give their buffers back while a session waits with nothing buffered, so an idle
//! session holds no buffer memory; a busy session then takes a buffer again for every request
//! and response. From the allocator, each of those is a malloc/free pair on the generic path
//! (these sizes are above the allocators' small-object fast paths): callgrind counted about
//! 1,300 instructions per statement for them in a prepared pgbench workload. Here the buffers
//! go back to a short list on the worker thread instead, and the next session to need one
//! takes it from there: no allocation per message while traffic flows, and the memory held
//! is bounded per thread ([`KEPT`] buffers), not per session.

use std::cell::RefCell;

use bytes::BytesMut;

/// Buffers of each size kept per thread, at most.
const KEPT: usize = 64;

thread_local! {
    /// Emptied buffers by size class: (capacity, buffers).
    static FREE: RefCell<Vec<(usize, Vec<BytesMut>)>> = const { RefCell::new(Vec::new()) };
}

/// Bytes of buffer capacity all threads' pools hold (feature `buffer-stats`).
#[cfg(feature = "buffer-stats")]
static POOLED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// What the buffer pools of all threads hold, in bytes of capacity: memory that is bounded per
/// thread, not per session, which the tests' per-session accounting leaves out.
#[cfg(feature = "buffer-stats")]
#[must_use]
pub fn pooled_bytes() -> usize {
    POOLED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Counts `buf` into (`into`) or out of the pools (feature `buffer-stats`; nothing otherwise).
#[allow(unused_variables)]
fn account(buf: &BytesMut, into: bool) {
    #[cfg(feature = "buffer-stats")]
    {
        use std::sync::atomic::Ordering::Relaxed;
        if into {
            POOLED.fetch_add(buf.capacity(), Relaxed);
        } else {
            POOLED.fetch_sub(buf.capacity(), Relaxed);
        }
    }
}

/// A buffer with room for at least `size` bytes: a recycled one when this thread has one.
#[must_use]
pub fn take(size: usize) -> BytesMut {
    FREE.with_borrow_mut(|free| {
        free.iter_mut()
            .find(|(s, _)| *s == size)
            .and_then(|(_, list)| list.pop())
    })
    .inspect(|b| account(b, false))
    .unwrap_or_else(|| BytesMut::with_capacity(size))
}

/// Gives `buf` back for sessions of this thread to reuse (as a buffer of `size` bytes) and
/// leaves an empty, unallocated buffer in its place. A buffer still holding bytes is left
/// alone; one that cannot be rewound to `size` bytes of room without allocating (it was
/// split), or that is much larger, is freed.
pub fn give(buf: &mut BytesMut, size: usize) {
    if !buf.is_empty() || buf.capacity() == 0 {
        return;
    }
    let mut b = std::mem::take(buf);
    if b.capacity() > 4 * size || !b.try_reclaim(size) {
        return;
    }
    FREE.with_borrow_mut(|free| {
        let i = free
            .iter()
            .position(|(s, _)| *s == size)
            .unwrap_or_else(|| {
                free.push((size, Vec::with_capacity(KEPT)));
                free.len() - 1
            });
        let list = &mut free[i].1;
        if list.len() < KEPT {
            account(&b, true);
            list.push(b);
        }
    });
}

/// The adaptive read size both relays use: it doubles while reads fill the room they were
/// given (more is waiting: bulk traffic moves in few large reads, a syscall pair each) and halves
/// when they come back small, between `min` and `max`.
#[derive(Debug, Clone, Copy)]
pub struct ReadSize {
    /// The next read's size.
    pub size: usize,
    min: usize,
    max: usize,
}

impl ReadSize {
    /// Starts at `min`.
    #[must_use]
    pub const fn new(min: usize, max: usize) -> Self {
        Self {
            size: min,
            min,
            max,
        }
    }

    /// After a read of `n` bytes into `room` bytes of free buffer.
    pub fn after_read(&mut self, n: usize, room: usize) {
        if n * 10 >= room * 9 {
            self.size = (self.size * 2).min(self.max);
        } else if n * 8 < self.size {
            self.size = (self.size / 2).max(self.min);
        }
    }

    /// Back to the smallest size.
    pub fn reset(&mut self) {
        self.size = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_rewound_and_bounded() {
        let mut b = take(2048);
        assert!(b.capacity() >= 2048);
        b.extend_from_slice(&[1; 1500]);
        let head = b.split_to(1000);
        // Still holding bytes: not given back.
        give(&mut b, 2048);
        assert_eq!(b.len(), 500);
        // Split and its other part alive: it cannot be rewound; freed, not kept.
        b.clear();
        give(&mut b, 2048);
        assert_eq!(b.capacity(), 0, "the session holds nothing");
        drop(head);
        let mut c = take(2048);
        c.extend_from_slice(&[2; 2000]);
        bytes::Buf::advance(&mut c, 2000);
        let addr = c.as_ptr() as usize - 2000;
        give(&mut c, 2048);
        assert_eq!(c.capacity(), 0);
        let d = take(2048);
        assert_eq!(d.as_ptr() as usize, addr, "the same storage, rewound");
        assert!(d.capacity() >= 2048 && d.is_empty());
        // Bounded: beyond KEPT, buffers are freed.
        let mut many: Vec<BytesMut> = (0..KEPT + 10).map(|_| take(4096)).collect();
        for m in &mut many {
            give(m, 4096);
        }
        let kept = FREE.with_borrow(|f| f.iter().find(|(s, _)| *s == 4096).map(|(_, l)| l.len()));
        assert_eq!(kept, Some(KEPT));
    }
}
