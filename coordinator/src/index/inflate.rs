//! Raw inflation that can start at an index point: zlib's `inflatePrime` (a point
//! in the middle of a byte), `inflateSetDictionary` (its window) and `Z_BLOCK` (stop
//! at a block boundary and say where in the input it lies). flate2 exposes none of
//! these, so this is a safe wrapper over zlib's C API as libz-rs-sys gives it, on the
//! same zlib-rs flate2 uses. And [`WholeInflate`], libdeflate's whole-buffer
//! decompressor, with the count of input consumed that libdeflater does not return;
//! and [`read_at_into`], which reads its input without zeroing the buffer first.
//! The only `unsafe` of the index code lives here.

use std::ffi::{c_int, c_void};
use std::fs::File;
use std::io;
use std::mem::size_of;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_deflate_decompress_ex,
    libdeflate_free_decompressor, libdeflate_result_LIBDEFLATE_SUCCESS,
};

use libz_rs_sys::{
    Z_BLOCK, Z_BUF_ERROR, Z_NO_FLUSH, Z_OK, Z_STREAM_END, inflate, inflateEnd, inflateInit2_,
    inflatePrime, inflateSetDictionary, z_stream, zlibVersion,
};

/// How one call to [`RawInflate::run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub consumed: usize,
    pub produced: usize,
    /// The deflate stream's final block ended (a gzip trailer follows).
    pub stream_end: bool,
}

/// A raw (headerless) inflate stream.
pub(crate) struct RawInflate {
    // Boxed: zlib's state may remember the stream's address, so it never moves.
    strm: Box<z_stream>,
}

// SAFETY: the stream owns its state; nothing in it is shared with another thread.
unsafe impl Send for RawInflate {}

impl RawInflate {
    pub fn new() -> Self {
        let mut strm = Box::new(z_stream::default());
        // SAFETY: a default z_stream (null allocators: zlib-rs fills in its own) and
        // the version this crate was built with.
        let ret = unsafe {
            inflateInit2_(
                &mut *strm,
                -15,
                zlibVersion(),
                size_of::<z_stream>() as c_int,
            )
        };
        // Only a bad version or out of memory fail here: neither can be handled.
        assert_eq!(ret, Z_OK, "inflateInit2 failed");
        Self { strm }
    }

    /// Feeds the `bits` (1..=7) high bits of `byte` before any input: a point that
    /// starts in the middle of the byte before its offset.
    pub fn prime(&mut self, bits: u8, byte: u8) -> bool {
        if bits == 0 {
            return true;
        }
        // SAFETY: an initialised stream, before the first inflate.
        let ret = unsafe {
            inflatePrime(
                &mut *self.strm,
                c_int::from(bits),
                c_int::from(byte >> (8 - bits)),
            )
        };
        ret == Z_OK
    }

    /// The 32 KiB (or fewer) bytes that precede the point.
    pub fn set_dictionary(&mut self, window: &[u8]) -> bool {
        if window.is_empty() {
            return true;
        }
        // SAFETY: `window` is valid for its length for the duration of the call, which
        // copies it.
        let ret =
            unsafe { inflateSetDictionary(&mut *self.strm, window.as_ptr(), window.len() as u32) };
        ret == Z_OK
    }

    /// Inflates from `input` into `output`; with `to_block_end` it returns at the next
    /// block boundary (zlib's Z_BLOCK). Err is zlib's message for bad data.
    pub fn run(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        to_block_end: bool,
    ) -> Result<Step, String> {
        // A valid pointer even for an empty buffer: zlib refuses a null next_out.
        let mut spare = [0u8; 1];
        let out: &mut [u8] = if output.is_empty() {
            &mut spare[..0]
        } else {
            output
        };
        let in_len = input.len().min(u32::MAX as usize);
        let out_len = out.len().min(u32::MAX as usize);
        self.strm.next_in = input.as_ptr().cast_mut();
        self.strm.avail_in = in_len as u32;
        self.strm.next_out = out.as_mut_ptr();
        self.strm.avail_out = out_len as u32;
        let flush = if to_block_end { Z_BLOCK } else { Z_NO_FLUSH };
        // SAFETY: next_in/next_out point into live buffers of the lengths given; inflate
        // only reads the one and writes the other within those lengths.
        let ret = unsafe { inflate(&mut *self.strm, flush) };
        let consumed = in_len - self.strm.avail_in as usize;
        let produced = out_len - self.strm.avail_out as usize;
        self.strm.next_in = std::ptr::null_mut();
        self.strm.next_out = std::ptr::null_mut();
        match ret {
            // Z_BUF_ERROR: nothing could move; the caller sees it in the counts.
            Z_OK | Z_STREAM_END | Z_BUF_ERROR => Ok(Step {
                consumed,
                produced,
                stream_end: ret == Z_STREAM_END,
            }),
            _ => Err(self.message()),
        }
    }

    /// Right after an end-of-block code (so the position below is exact), and not in
    /// the final block.
    pub fn at_block_boundary(&self) -> bool {
        self.strm.data_type & 128 != 0 && self.strm.data_type & 64 == 0
    }

    /// Unused bits in the last byte consumed: an index point's `bits` at a boundary.
    pub fn unused_bits(&self) -> u8 {
        (self.strm.data_type & 7) as u8
    }

    fn message(&self) -> String {
        if self.strm.msg.is_null() {
            return "invalid compressed data".into();
        }
        // SAFETY: zlib sets msg to a static NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr(self.strm.msg) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for RawInflate {
    fn drop(&mut self) {
        // SAFETY: initialised in new(), ended once.
        unsafe { inflateEnd(&mut *self.strm) };
    }
}

/// libdeflate's decompressor: a whole raw deflate stream (up to and including its
/// final block) in one buffer, into one buffer.
pub(crate) struct WholeInflate {
    d: NonNull<libdeflate_decompressor>,
}

// SAFETY: the decompressor is plain memory owned by this value; libdeflate keeps no
// reference to it elsewhere.
unsafe impl Send for WholeInflate {}

impl WholeInflate {
    pub fn new() -> Self {
        // SAFETY: no arguments; null only when out of memory.
        let d = unsafe { libdeflate_alloc_decompressor() };
        // Out of memory for a few KiB: nothing else would work either.
        Self {
            d: NonNull::new(d).expect("libdeflate_alloc_decompressor: out of memory"),
        }
    }

    /// Inflates the stream at the start of `input` into `out`'s spare capacity (the
    /// stream's output must fit in it) and returns (bytes of input consumed, bytes
    /// appended to `out`); None for bad data or output that does not fit.
    pub fn run(&mut self, input: &[u8], out: &mut Vec<u8>) -> Option<(usize, usize)> {
        let spare = out.spare_capacity_mut();
        let (mut consumed, mut produced) = (0usize, 0usize);
        // SAFETY: input and the spare capacity are live buffers of the lengths given;
        // libdeflate reads only the one and writes only the other, within them.
        let ret = unsafe {
            libdeflate_deflate_decompress_ex(
                self.d.as_ptr(),
                input.as_ptr().cast::<c_void>(),
                input.len(),
                spare.as_mut_ptr().cast::<c_void>(),
                spare.len(),
                &mut consumed,
                &mut produced,
            )
        };
        if ret != libdeflate_result_LIBDEFLATE_SUCCESS || produced > spare.len() {
            return None;
        }
        // SAFETY: libdeflate initialised the first `produced` bytes of the spare
        // capacity (checked above to lie within it).
        unsafe { out.set_len(out.len() + produced) };
        Some((consumed, produced))
    }
}

impl Drop for WholeInflate {
    fn drop(&mut self) {
        // SAFETY: allocated in new(), freed once.
        unsafe { libdeflate_free_decompressor(self.d.as_ptr()) };
    }
}

/// Appends `len` bytes of `file` from offset `at` to `out`, straight into its spare
/// capacity (no zeroing first: this is a span's compressed bytes, megabytes). An
/// error when the file ends first.
pub(crate) fn read_at_into(file: &File, out: &mut Vec<u8>, len: usize, at: u64) -> io::Result<()> {
    out.reserve(len);
    let mut done = 0usize;
    while done < len {
        let spare = &mut out.spare_capacity_mut()[..len - done];
        let offset = libc::off_t::try_from(at + done as u64)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `spare` is writable memory of the length given; pread writes at most
        // that many bytes into it.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                spare.as_mut_ptr().cast::<c_void>(),
                spare.len(),
                offset,
            )
        };
        match n {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n if n < 0 => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            n => {
                // SAFETY: pread initialised the first `n` (<= spare.len()) bytes of the
                // spare capacity.
                unsafe { out.set_len(out.len() + n as usize) };
                done += n as usize;
            }
        }
    }
    Ok(())
}
