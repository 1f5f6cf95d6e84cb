//! An allocator that refuses any single allocation over a limit, for test builds: under it, a
//! reader that would allocate what a damaged header claims fails its test (the allocation fails
//! and the process aborts) instead of passing on a machine that happens to overcommit memory.
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: heavyball_core::bounded::Bounded = heavyball_core::bounded::Bounded::new(1 << 30);
//! ```

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator, refusing (returning null for) any single allocation over its limit.
pub struct Bounded {
    limit: usize,
}

impl Bounded {
    /// An allocator refusing allocations of more than `limit` bytes.
    pub const fn new(limit: usize) -> Self {
        Bounded { limit }
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged, or answered with null
// (allocation failure), which callers must handle.
unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > self.limit { std::ptr::null_mut() } else { unsafe { System.alloc(layout) } }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > self.limit { std::ptr::null_mut() } else { unsafe { System.alloc_zeroed(layout) } }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > self.limit {
            std::ptr::null_mut()
        } else {
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}
