//! Flush-to-zero for the worker thread.
//!
//! Reverb tails, fades and masks near zero produce subnormal floats (below ~1e-38), which x86
//! processors handle in microcode, tens to a hundred times slower than normal numbers: a quiet
//! passage can then make a model run miss its deadline. Hosts set flush-to-zero on their audio
//! threads for the same reason; a thread Sift starts begins with the processor's default (off),
//! so the worker sets it itself, before it computes anything. Subnormals are far below anything
//! audible (−760 dBFS), so flushing them changes no audible result.

/// Makes the calling thread flush subnormal results to zero and read subnormal inputs as zero
/// (x86's FTZ and DAZ bits, the flush-to-zero bit on 64-bit Arm). Does nothing elsewhere.
pub(crate) fn flush_to_zero() {
    #[cfg(any(target_arch = "x86_64", all(target_arch = "x86", target_feature = "sse")))]
    {
        /// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6) bits.
        const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);
        let mut csr: u32 = 0;
        // SAFETY: reading and writing MXCSR only changes this thread's floating-point mode;
        // the value written is the one read with two mode bits set.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
            csr |= FTZ_DAZ;
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags, readonly));
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        /// FPCR's flush-to-zero bit.
        const FZ: u64 = 1 << 24;
        // SAFETY: as above, for this thread's FPCR.
        unsafe {
            let mut fpcr: u64;
            std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags));
            fpcr |= FZ;
            std::arch::asm!("msr fpcr, {}", in(reg) fpcr, options(nomem, nostack, preserves_flags));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn subnormal_results_become_zero_on_the_thread_that_asks() {
        let smallest_normal = std::hint::black_box(f32::MIN_POSITIVE);
        let halve = |x: f32| std::hint::black_box(x) / std::hint::black_box(2.0);
        let on_thread = std::thread::spawn(move || {
            let before = halve(smallest_normal);
            super::flush_to_zero();
            (before, halve(smallest_normal))
        })
        .join()
        .unwrap();
        assert!(on_thread.0 > 0.0, "a new thread starts without flush-to-zero");
        assert_eq!(on_thread.1, 0.0, "after flush_to_zero a subnormal result is zero");
        assert!(halve(smallest_normal) > 0.0, "another thread's mode is untouched");
    }
}
