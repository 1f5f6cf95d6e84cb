//! The IDX reader, plain and gzipped: any bytes give images or labels, or an error naming the
//! file; decompression stops at its bound.
#![no_main]

use std::path::Path;

use heavyball::data::idx::{parse, read_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let path = Path::new("fuzz-idx");
    let gzipped = mode & 1 == 1;
    let ndims = if mode & 2 == 2 { 3 } else { 1 };
    let Ok(bytes) = read_bytes(rest, gzipped, 1 << 20, path) else { return };
    assert!(bytes.len() <= 1 << 20);
    if let Ok((dims, values)) = parse(&bytes, path, ndims) {
        assert_eq!(dims.len(), ndims);
        assert_eq!(dims.iter().product::<usize>(), values.len());
    }
});
