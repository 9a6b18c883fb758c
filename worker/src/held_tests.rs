//! Holding segments: the memory budget spills, writes keep to whole blocks.

use super::*;

fn store(budget: u64) -> &'static HeldStore {
    HeldStore::new(budget, std::env::temp_dir())
}

#[test]
fn whole_blocks_inside_a_range_and_none_when_it_spans_none() {
    assert_eq!(aligned_inside(0, 8192, 4096), (0, 8192));
    assert_eq!(aligned_inside(10, 9000, 4096), (4096, 8192));
    assert_eq!(aligned_inside(10, 100, 4096), (110, 110));
    assert_eq!(aligned_inside(4000, 4200, 4096), (4096, 8192));
    assert_eq!(aligned_inside(4000, 90, 4096), (4090, 4090));
    assert_eq!(aligned_inside(4096, 0, 4096), (4096, 4096));
}

fn written(store: &'static HeldStore, data: &[u8], offset: u64) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut sink = store.sink();
    for piece in data.chunks(1000) {
        sink.push(piece).unwrap();
    }
    let out = tempfile::tempfile().unwrap();
    let len = offset + data.len() as u64 + 100;
    out.write_all_at(&vec![b'-'; len as usize], 0).unwrap();
    let (head, tail) = sink.write_into(&out, offset, 4096).unwrap();
    let mut file = vec![0; len as usize];
    out.read_exact_at(&mut file, 0).unwrap();
    (head, tail, file)
}

#[test]
fn a_segment_writes_its_inner_blocks_and_returns_its_ends_in_memory_or_spilled() {
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for budget in [1 << 20, 3000] {
        let s = store(budget);
        let (head, tail, file) = written(s, &data, 1234);
        let (first, last) = aligned_inside(1234, data.len() as u64, 4096);
        assert_eq!(head, data[..(first - 1234) as usize]);
        assert_eq!(tail, data[(last - 1234) as usize..]);
        // Only the whole blocks were written: the ends are still the filler.
        assert!(file[..first as usize].iter().all(|&b| b == b'-'));
        assert_eq!(
            file[first as usize..last as usize],
            data[(first - 1234) as usize..(last - 1234) as usize]
        );
        assert!(file[last as usize..].iter().all(|&b| b == b'-'));
        assert_eq!(s.in_memory(), 0, "the sink gave its memory back");
    }
}

#[test]
fn memory_stays_within_the_budget_and_spilled_segments_read_back() {
    let s = store(5000);
    let mut a = s.sink();
    a.push(&[1; 4000]).unwrap();
    let mut b = s.sink();
    b.push(&[2; 4000]).unwrap();
    assert!(s.in_memory() <= 5000);
    assert!(b.spilled.is_some());
    let id = s.hold("job", 3, b);
    assert!(matches!(
        s.take(id, "job", 4, 4000),
        Err(HeldError::Mismatch { .. })
    ));
    assert!(matches!(
        s.take(id, "other", 3, 4000),
        Err(HeldError::Mismatch { .. })
    ));
    let b = s.take(id, "job", 3, 4000).unwrap();
    let mut back = vec![0; 4000];
    b.read_at(&mut back, 0).unwrap();
    assert_eq!(back, vec![2; 4000]);
    assert!(matches!(
        s.take(id, "job", 3, 4000),
        Err(HeldError::Gone(_))
    ));
    drop(a);
    assert_eq!(s.in_memory(), 0);
}

#[test]
fn the_oldest_go_past_the_limit() {
    let s = store(1 << 20);
    let first = s.hold("job", 0, s.sink());
    let ids: Vec<u64> = (1..MAX_HELD as u64)
        .map(|i| s.hold("job", i, s.sink()))
        .collect();
    assert!(s.take(first, "job", 0, 0).is_ok());
    let newest = s.hold("job", 999, s.sink());
    let _ = s.hold("job", 1000, s.sink());
    // Full again: the oldest (ids[0]) made room.
    assert!(matches!(
        s.take(ids[0], "job", 1, 0),
        Err(HeldError::Gone(_))
    ));
    assert!(s.take(newest, "job", 999, 0).is_ok());
}
