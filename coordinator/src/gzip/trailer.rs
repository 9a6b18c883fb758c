//! The end of a member: the empty final block, then the CRC-32 and length of the whole
//! stream. The CRC is built from per-chunk CRCs with crc32_combine (crc32fast's) over
//! 64-bit lengths: ISIZE is truncated to 32 bits only when the trailer is written.

/// An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block.
/// Every chunk ends non-final and byte-aligned, so this closes the stream whatever
/// came last.
pub(crate) const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

/// The final block and the trailer: CRC-32, then ISIZE = total length mod 2^32.
pub(crate) fn trailer(crc: u32, total_len: u64) -> [u8; 10] {
    let mut t = [0u8; 10];
    t[..2].copy_from_slice(&FINAL_BLOCK);
    t[2..6].copy_from_slice(&crc.to_le_bytes());
    t[6..].copy_from_slice(&(total_len as u32).to_le_bytes());
    t
}

/// CRC-32 and length of a prefix of the input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StreamCrc {
    pub crc: u32,
    pub len: u64,
}

impl StreamCrc {
    /// Extends the prefix by a chunk whose own CRC and length are given.
    pub fn append(&mut self, crc: u32, len: u64) {
        self.crc = combine(self.crc, crc, len);
        self.len += len;
    }
}

/// CRC of `A ++ B` from CRC(A), CRC(B) and len(B).
pub(crate) fn combine(crc_a: u32, crc_b: u32, len_b: u64) -> u32 {
    let mut a = crc32fast::Hasher::new_with_initial_len(crc_a, 0);
    a.combine(&crc32fast::Hasher::new_with_initial_len(crc_b, len_b));
    a.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn random_splits_agree_with_a_direct_crc() {
        let data = noise(200_000, 7);
        let direct = crc32fast::hash(&data);
        let mut seed = 12345u64;
        for _ in 0..200 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut cuts: Vec<usize> = (0..(seed % 7) as usize)
                .map(|i| (seed.rotate_left(i as u32 * 9) % data.len() as u64) as usize)
                .collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort_unstable();
            let mut total = StreamCrc::default();
            for w in cuts.windows(2) {
                let part = &data[w[0]..w[1]];
                total.append(crc32fast::hash(part), part.len() as u64);
            }
            assert_eq!(
                total,
                StreamCrc {
                    crc: direct,
                    len: data.len() as u64
                }
            );
        }
    }

    /// Lengths past 4 GiB: a direct CRC over 4.5 GiB (streamed from one buffer, never
    /// stored) must equal the combination of its two parts split beyond 4 GiB.
    #[test]
    fn lengths_over_4_gib_combine_correctly() {
        let block = noise(1 << 20, 99);
        let blocks_a = 4 * 1024 + 3; // just past 4 GiB
        let blocks_b = 509;
        let mut whole = crc32fast::Hasher::new();
        let mut part_a = crc32fast::Hasher::new();
        let mut part_b = crc32fast::Hasher::new();
        for i in 0..blocks_a + blocks_b {
            whole.update(&block);
            if i < blocks_a {
                part_a.update(&block);
            } else {
                part_b.update(&block);
            }
        }
        let len_a = (blocks_a as u64) << 20;
        let len_b = (blocks_b as u64) << 20;
        assert!(len_a > u32::MAX as u64);
        let mut total = StreamCrc::default();
        total.append(part_a.finalize(), len_a);
        total.append(part_b.finalize(), len_b);
        assert_eq!(total.crc, whole.finalize());
        assert_eq!(total.len, len_a + len_b);
        // Had the length been kept in 32 bits it would have wrapped, giving another CRC.
        let (x, y) = (0x1234_5678, 0x9abc_def0);
        assert_ne!(combine(x, y, len_a % (1 << 32)), combine(x, y, len_a));
    }

    #[test]
    fn trailer_truncates_only_isize() {
        let t = trailer(0xdeadbeef, (5 << 32) + 7);
        assert_eq!(t, [3, 0, 0xef, 0xbe, 0xad, 0xde, 7, 0, 0, 0]);
    }

    #[test]
    fn empty_parts_change_nothing() {
        let mut s = StreamCrc::default();
        s.append(crc32fast::hash(b"abc"), 3);
        let before = s;
        s.append(0, 0);
        assert_eq!(s, before);
    }
}
