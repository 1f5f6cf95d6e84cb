//! The builds of the kernels: which instruction set their tiles are compiled for, found once
//! per process from what the CPU reports.

/// One build of the kernel: the instruction set its tiles are compiled for. Every build gives
/// bitwise the same products; they differ only in speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// Portable scalar code (fused multiply-adds through `mul_add`), for any CPU.
    Scalar,
    /// 256-bit vectors with FMA.
    Avx2,
    /// 512-bit vectors with FMA.
    Avx512,
}

impl Build {
    /// The widest build this CPU runs: the one every product and every vectorised function
    /// uses. Found once per process, then read from a cache.
    #[inline]
    pub fn detect() -> Build {
        use std::sync::atomic::{AtomicU8, Ordering};
        // 0 until found, then 1 + the build's position in `ALL`.
        static FOUND: AtomicU8 = AtomicU8::new(0);
        match FOUND.load(Ordering::Relaxed) {
            0 => {
                let build = Build::probe();
                let index = Build::ALL.iter().position(|&b| b == build).expect("one of ALL");
                FOUND.store(index as u8 + 1, Ordering::Relaxed);
                build
            }
            i => Build::ALL[i as usize - 1],
        }
    }

    /// Every build, narrowest first.
    const ALL: [Build; 3] = [Build::Scalar, Build::Avx2, Build::Avx512];

    /// Asks the CPU for its widest build.
    fn probe() -> Build {
        #[cfg(target_arch = "x86_64")]
        {
            let fma = std::arch::is_x86_feature_detected!("fma");
            if fma && std::arch::is_x86_feature_detected!("avx512f") {
                return Build::Avx512;
            }
            if fma && std::arch::is_x86_feature_detected!("avx2") {
                return Build::Avx2;
            }
        }
        Build::Scalar
    }

    /// True when this CPU can run the build.
    pub fn is_supported(self) -> bool {
        match self {
            Build::Scalar => true,
            Build::Avx2 => Build::detect() != Build::Scalar,
            Build::Avx512 => Build::detect() == Build::Avx512,
        }
    }

    /// Every build this CPU runs, narrowest first: what tests compare against each other.
    pub fn available() -> Vec<Build> {
        Build::ALL.into_iter().filter(|b| b.is_supported()).collect()
    }
}
