//! Checks every answer passes before it may be written (docs/DESIGN.md, contract 3):
//! the engine, the length, a size within the chunk's deflate bound, the CRC the
//! coordinator computed itself, the sync-flush ending, and with `--verify` a full
//! inflate compared byte for byte with the input that must end on a block boundary, so
//! that stitched in, it leaves the stream whole. (An answer declaring more than the
//! bound allows is refused before it is read at all: `fleet/remote.rs`.)

use flate2::{Decompress, FlushDecompress, Status};
use gzfleet_worker::engine::{Engine, MAX_DICTIONARY, deflate_bound};

use super::chunker::{Chunk, Payload};
use crate::fleet::segments::Held;
use crate::fleet::{Answer, AttemptError};
use crate::gzip::trailer::FINAL_BLOCK;
use bytes::Bytes;

const SYNC_FLUSH: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How far answers are checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checks {
    /// The engine every answer must come from.
    pub engine: Engine,
    /// --verify: inflate every answer and compare it with the input.
    pub verify: bool,
    /// No dictionary was used (-i): what --verify primes the inflater with.
    pub independent: bool,
    /// The worker was asked for the chunk's window (pull mode, an index point).
    pub window: bool,
}

pub(crate) fn answer(
    chunk: &Chunk,
    answer: Answer,
    checks: Checks,
) -> Result<Answer, AttemptError> {
    if answer.engine != checks.engine.id() {
        return Err(AttemptError::Wrong(format!(
            "produced by engine '{}', not '{}'",
            answer.engine,
            checks.engine.id()
        )));
    }
    if answer.input_len != chunk.len {
        return Err(AttemptError::Wrong(format!(
            "covers {} bytes but chunk {} has {}",
            answer.input_len, chunk.index, chunk.len
        )));
    }
    if let Some(held) = &answer.held {
        segment(chunk, held)?;
        return Ok(answer);
    }
    // An engine's output never exceeds this; more is padding or another chunk's data.
    let bound = deflate_bound(chunk.len);
    if answer.deflate.len() as u64 > bound {
        return Err(AttemptError::Wrong(format!(
            "{} bytes of deflate data for chunk {} of {} bytes, over its deflate bound of {bound}",
            answer.deflate.len(),
            chunk.index,
            chunk.len
        )));
    }
    if let Payload::Bytes {
        crc32: Some(crc), ..
    } = &chunk.payload
        && answer.crc32 != *crc
    {
        return Err(AttemptError::Wrong(format!(
            "CRC-32 {:08x} for chunk {}, whose CRC-32 is {crc:08x}",
            answer.crc32, chunk.index
        )));
    }
    if !answer.deflate.ends_with(&SYNC_FLUSH) {
        return Err(AttemptError::Wrong(format!(
            "deflate data for chunk {} does not end with a sync flush",
            chunk.index
        )));
    }
    window(chunk, &answer, checks.window)?;
    if checks.verify {
        verify(chunk, &answer, checks)?;
    }
    Ok(answer)
}

/// Direct output: a held segment's numbers, chunk by chunk, as far as they can be
/// checked without its bytes (which the coordinator never holds): the chunks' lengths
/// as the block cuts them, each within its deflate bound and long enough to end in a
/// sync flush, and a window of the right length for each index point.
fn segment(chunk: &Chunk, held: &Held) -> Result<(), AttemptError> {
    let block = held.request.block;
    let wrong =
        |why: String| AttemptError::Wrong(format!("segment at chunk {}: {why}", chunk.index));
    let n = chunk.len.div_ceil(block) as usize;
    if held.input_lengths.len() != n || held.deflate_lengths.len() != n || held.crc32s.len() != n {
        return Err(wrong(format!(
            "numbers for {} chunks, not {n}",
            held.input_lengths.len()
        )));
    }
    let mut points = 0;
    for (i, (&input, &deflate)) in held
        .input_lengths
        .iter()
        .zip(&held.deflate_lengths)
        .enumerate()
    {
        let expected = block.min(chunk.len - i as u64 * block);
        if input != expected || deflate < SYNC_FLUSH.len() as u64 || deflate > deflate_bound(input)
        {
            return Err(wrong(format!(
                "chunk {i} of {input} bytes (expected {expected}) with {deflate} bytes of deflate data"
            )));
        }
        let index = chunk.index + i as u64;
        if held.request.window_every > 0 && index.is_multiple_of(held.request.window_every) {
            let offset = chunk.offset + i as u64 * block;
            let want = offset.min(MAX_DICTIONARY as u64) as usize;
            if held.windows.get(points).map(Bytes::len) != Some(want) {
                return Err(wrong(format!(
                    "no window of {want} bytes for chunk {index}"
                )));
            }
            points += 1;
        }
    }
    if held.windows.len() != points {
        return Err(wrong(format!(
            "{} windows for {points} index points",
            held.windows.len()
        )));
    }
    Ok(())
}

/// A window asked for must be the input before the chunk, whole: its length is
/// checked here; its bytes by --verify, or else by whoever inflates from that index
/// point (the CRC of the data after it). None may come unasked.
fn window(chunk: &Chunk, answer: &Answer, asked: bool) -> Result<(), AttemptError> {
    let expected = match asked {
        true => chunk.offset.min(MAX_DICTIONARY as u64),
        false => 0,
    };
    if answer.window.len() as u64 != expected {
        return Err(AttemptError::Wrong(format!(
            "a window of {} bytes for chunk {}, which needs {expected}",
            answer.window.len(),
            chunk.index
        )));
    }
    Ok(())
}

/// --verify: the input read (in pull mode, read here again), its CRC compared, and
/// the answer inflated and compared with it byte for byte.
fn verify(chunk: &Chunk, answer: &Answer, checks: Checks) -> Result<(), AttemptError> {
    let independent = checks.independent;
    let (dictionary, data) = match &chunk.payload {
        Payload::Bytes {
            data, dictionary, ..
        } => (dictionary.clone(), data.clone()),
        Payload::Shared(file) => file
            .read(chunk, !independent)
            .map_err(|e| AttemptError::Input(format!("cannot read it here to verify: {e}")))?,
    };
    let failed =
        |why: String| AttemptError::Wrong(format!("chunk {} failed --verify: {why}", chunk.index));
    if crc32fast::hash(&data) != answer.crc32 {
        return Err(failed(format!(
            "CRC-32 {:08x} is not the input's",
            answer.crc32
        )));
    }
    if checks.window && answer.window != dictionary {
        return Err(failed("its window is not the input before it".into()));
    }
    inflates_to(&answer.deflate, &dictionary, &data).map_err(failed)
}

/// Inflates `deflate` primed with `dictionary` and compares it with `expected`.
fn inflates_to(deflate: &[u8], dictionary: &[u8], expected: &[u8]) -> Result<(), String> {
    let mut inflater = Decompress::new(false);
    if !dictionary.is_empty() {
        inflater
            .set_dictionary(dictionary)
            .map_err(|e| e.to_string())?;
    }
    // One byte of room past the expected length reveals data that inflates too long.
    let mut out = Vec::with_capacity(expected.len() + 1);
    let status = inflater
        .decompress_vec(deflate, &mut out, FlushDecompress::Sync)
        .map_err(|e| format!("does not inflate ({e})"))?;
    if status == Status::StreamEnd {
        return Err("contains a final block".into());
    }
    if inflater.total_in() != deflate.len() as u64 || out.len() != expected.len() {
        return Err(format!(
            "inflates to {} bytes, expected {}",
            out.len(),
            expected.len()
        ));
    }
    if out != expected {
        return Err("inflates to different bytes".into());
    }
    // Right bytes are not enough: the next chunk's data must start a block. Ending in
    // 00 00 ff ff proves nothing by itself (a stored block can run on past those
    // bytes), but if the final block we append closes the stream, nothing was left
    // open. An inflater in the middle of a block would read it as data, or fail.
    let mut rest = Vec::with_capacity(1);
    let end = inflater.decompress_vec(&FINAL_BLOCK, &mut rest, FlushDecompress::Finish);
    if !matches!(end, Ok(Status::StreamEnd)) || !rest.is_empty() {
        return Err("does not end on a block boundary: it would swallow what follows".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use gzfleet_worker::engine::compress_chunk;

    fn chunk(data: &[u8], dict: &[u8], crc: bool) -> Chunk {
        Chunk {
            seq: 3,
            index: 3,
            offset: 0,
            len: data.len() as u64,
            payload: Payload::Bytes {
                data: Bytes::copy_from_slice(data),
                dictionary: Bytes::copy_from_slice(dict),
                crc32: crc.then(|| crc32fast::hash(data)),
            },
        }
    }

    fn bytes(c: &Chunk) -> (&[u8], &[u8]) {
        match &c.payload {
            Payload::Bytes {
                data, dictionary, ..
            } => (data, dictionary),
            Payload::Shared(_) => unreachable!(),
        }
    }

    const LIGHT: Checks = Checks {
        engine: Engine::ZlibRs,
        verify: false,
        independent: false,
        window: false,
    };
    const FULL: Checks = Checks {
        engine: Engine::ZlibRs,
        verify: true,
        independent: false,
        window: false,
    };

    #[test]
    fn a_window_must_be_asked_for_and_whole() {
        let mut c = chunk(b"hello hello hello world", b"", true);
        c.offset = 40_000;
        let asked = Checks {
            window: true,
            ..LIGHT
        };
        let with = |c: &Chunk, n: usize| Answer {
            window: Bytes::from(vec![7; n]),
            held: None,
            received: 0,
            ..honest(c)
        };
        assert!(answer(&c, with(&c, MAX_DICTIONARY), asked).is_ok());
        for n in [0, MAX_DICTIONARY - 1, MAX_DICTIONARY + 1] {
            let e = answer(&c, with(&c, n), asked).unwrap_err();
            assert!(
                matches!(&e, AttemptError::Wrong(m) if m.contains("needs 32768")),
                "{e:?}"
            );
        }
        c.offset = 100;
        assert!(answer(&c, with(&c, 100), asked).is_ok());
        let unasked = answer(&c, with(&c, 100), LIGHT).unwrap_err();
        assert!(matches!(&unasked, AttemptError::Wrong(m) if m.contains("needs 0")));
    }

    fn honest(c: &Chunk) -> Answer {
        let (data, dictionary) = bytes(c);
        let out = compress_chunk(data, dictionary, 6).unwrap();
        Answer {
            deflate: out.deflate.into(),
            crc32: out.crc32,
            input_len: out.input_len,
            engine: Engine::ZlibRs.id().into(),
            window: Bytes::new(),
            held: None,
            received: 0,
        }
    }

    #[test]
    fn honest_answers_pass_with_and_without_verify() {
        let c = chunk(b"hello hello hello world", b"hello ", true);
        assert!(answer(&c, honest(&c), LIGHT).is_ok());
        assert!(answer(&c, honest(&c), FULL).is_ok());
    }

    #[test]
    fn lies_are_caught() {
        let c = chunk(b"the quick brown fox jumps over the lazy dog", b"", true);
        let mut wrong_crc = honest(&c);
        wrong_crc.crc32 ^= 1;
        let mut wrong_len = honest(&c);
        wrong_len.input_len += 1;
        let mut wrong_engine = honest(&c);
        wrong_engine.engine = "zlib-ng/2".into();
        // Another engine of this very build is still not the one the job uses.
        let mut other_engine = honest(&c);
        other_engine.engine = Engine::Libdeflate.id().into();
        let mut truncated = honest(&c);
        truncated.deflate = truncated.deflate.slice(..truncated.deflate.len() - 1);
        for bad in [wrong_crc, wrong_len, wrong_engine, other_engine, truncated] {
            assert!(matches!(
                answer(&c, bad, LIGHT),
                Err(AttemptError::Wrong(_))
            ));
        }
    }

    #[test]
    fn an_answer_longer_than_the_deflate_bound_is_wrong_even_if_well_framed() {
        let c = chunk(&[9u8; 4000], b"", true);
        let mut bloated = honest(&c);
        let mut padded = vec![0u8; deflate_bound(c.len) as usize - SYNC_FLUSH.len() + 1];
        padded.extend_from_slice(&SYNC_FLUSH);
        bloated.deflate = padded.into();
        let err = answer(&c, bloated, LIGHT).unwrap_err();
        assert!(matches!(err, AttemptError::Wrong(_)), "{err}");
        assert!(err.to_string().contains("deflate bound of 5524"), "{err}");
        // Right at the bound is what an engine may produce: not refused for its length.
        let mut at_bound = honest(&c);
        let mut padded = vec![0u8; deflate_bound(c.len) as usize - SYNC_FLUSH.len()];
        padded.extend_from_slice(&SYNC_FLUSH);
        at_bound.deflate = padded.into();
        assert!(answer(&c, at_bound, LIGHT).is_ok());
    }

    #[test]
    fn verify_catches_wrong_content_with_a_right_crc() {
        let c = chunk(&[7u8; 5000], b"", true);
        let mut forged = honest(&c);
        forged.deflate = compress_chunk(&[0u8; 5000], &[], 1).unwrap().deflate.into();
        assert!(
            answer(&c, forged.clone(), LIGHT).is_ok(),
            "only --verify can see this"
        );
        let err = answer(&c, forged, FULL).unwrap_err();
        assert!(err.to_string().contains("--verify"), "{err}");
    }

    /// A stored block whose LEN runs past the chunk's end inflates to exactly the
    /// chunk, and ends in 00 00 ff ff when the chunk's data does; stitched in, it would
    /// swallow the next chunk's deflate data as literal bytes.
    #[test]
    fn verify_refuses_an_answer_that_does_not_end_on_a_block_boundary() {
        let mut data = b"payload that happens to end like a sync flush".to_vec();
        data.extend_from_slice(&SYNC_FLUSH);
        let c = chunk(&data, b"", true);
        let len = data.len() as u16 + 100;
        let mut open_block = vec![0x00];
        open_block.extend_from_slice(&len.to_le_bytes());
        open_block.extend_from_slice(&(!len).to_le_bytes());
        open_block.extend_from_slice(&data);
        let mut lie = honest(&c);
        lie.deflate = open_block.into();
        let err = answer(&c, lie, FULL).unwrap_err();
        assert!(err.to_string().contains("block boundary"), "{err}");
    }

    #[test]
    fn verify_needs_the_dictionary() {
        let dict = b"a dictionary with words in it ".repeat(20);
        let c = chunk(&dict[5..300], &dict, false);
        assert!(answer(&c, honest(&c), FULL).is_ok());
        let unprimed = chunk(&dict[5..300], b"", false);
        assert!(answer(&unprimed, honest(&c), FULL).is_err());
    }
}
