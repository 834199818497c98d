//! This test process's own threads and memory, for the leak tests.

/// Threads of this process, from `/proc/self/task`.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

/// Resident memory of this process in MiB, from `/proc/self/status`.
pub fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

extern "C" {
    /// glibc: heap statistics over every arena.
    fn mallinfo2() -> MallInfo2;
}

/// glibc's `struct mallinfo2`.
#[repr(C)]
struct MallInfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

/// What the process has allocated and not freed, in MiB (every malloc arena plus mmapped
/// blocks): what grows with a leak, unlike the resident size, which also holds memory the
/// allocator keeps for reuse.
pub fn live_heap_mib() -> f64 {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let info = unsafe { mallinfo2() };
    (info.uordblks + info.hblkhd) as f64 / (1024.0 * 1024.0)
}
