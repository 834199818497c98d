//! The process's peak memory, as the operating system counts it, for `sift separate`'s report
//! and the benchmark.

/// The process's peak resident memory so far, in MiB: `VmHWM` on Linux, the peak working set
/// on Windows; `None` elsewhere or when the system does not say.
pub fn peak_rss_mib() -> Option<f64> {
    peak_rss_bytes().map(|bytes| bytes as f64 / f64::from(1 << 20))
}

#[cfg(target_os = "linux")]
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

#[cfg(windows)]
fn peak_rss_bytes() -> Option<u64> {
    use windows_sys::Win32::System::ProcessStatus::{GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS};
    use windows_sys::Win32::System::Threading::GetCurrentProcess;

    // SAFETY: the counters are plain data, zero is a valid value; `cb` tells the call their size,
    // and the current process's pseudo handle needs no closing.
    let mut counters: PROCESS_MEMORY_COUNTERS = unsafe { std::mem::zeroed() };
    counters.cb = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
    let ok = unsafe { GetProcessMemoryInfo(GetCurrentProcess(), &mut counters, counters.cb) };
    (ok != 0).then_some(counters.PeakWorkingSetSize as u64)
}

#[cfg(not(any(target_os = "linux", windows)))]
fn peak_rss_bytes() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(any(target_os = "linux", windows))]
    fn the_peak_covers_what_was_just_touched() {
        // A block larger than the peak so far (other tests in this process may have set it),
        // written through so all of it is resident: the peak must then cover the block.
        let before = super::peak_rss_mib().expect("this platform reports its peak memory");
        let block_mib = before.ceil() as usize + 64;
        let block = vec![1u8; block_mib << 20];
        std::hint::black_box(&block);
        let after = super::peak_rss_mib().unwrap();
        assert!(
            after >= block_mib as f64,
            "peak {after:.1} MiB while {block_mib} MiB are resident (before: {before:.1})"
        );
    }
}
