//! Seeded mutation fuzzing of what the cloud side parses from the network:
//! offload frames (`Frame::decode`, the stream `FrameReader`) and KServe v2
//! requests (JSON and binary). Every input must give a result or an error,
//! never a panic. Longer runs:
//!
//! ```sh
//! FUZZ_ITERS=1000000 FUZZ_SEED=$RANDOM cargo test -p hybridc-cloud --release --test fuzz -- --nocapture
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use hybridc_cloud::frame::{self, ErrorCode, ErrorFrame, Frame, FrameReader, Query, Reply};
use hybridc_cloud::model::ServedModel;
use hybridc_cloud::serve;

fn iterations() -> usize {
    std::env::var("FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

fn seed() -> u64 {
    let s = std::env::var("FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x9e37_79b9_7f4a_7c15);
    eprintln!("fuzz seed {s} (FUZZ_SEED), {} iterations (FUZZ_ITERS)", iterations());
    (s << 1) | 1
}

/// xorshift64*: reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [&[u8]; 10] = [
    &[0],
    &[0xff],
    &[0x7f],
    &[0x80],
    &[0xff, 0xff, 0xff, 0xff],
    &[0, 0, 0, 0x80],
    &[0xff, 0xff, 0xff, 0x7f],
    &[0, 0, 0x10, 0],
    b"HY\x01\x01",
    b"HY\x01\x02\x14\x00\x00\x00",
];

/// A few random edits: bit flips, random or boundary bytes, insertions,
/// deletions, truncation, duplication of a slice.
fn mutate(rng: &mut Rng, input: &[u8], extra: &[&[u8]]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(8) {
            0 if at < b.len() => b[at] ^= 1 << rng.below(8),
            1 if at < b.len() => b[at] = rng.next() as u8,
            2 => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let end = (at + v.len()).min(b.len());
                b.splice(at..end, v.iter().copied());
            }
            3 => b.insert(at.min(b.len()), rng.next() as u8),
            4 if at < b.len() => {
                let n = 1 + rng.below(16).min(b.len() - at - 1);
                b.drain(at..at + n);
            }
            5 => b.truncate(at),
            6 if at < b.len() => {
                let n = rng.below(64).min(b.len() - at);
                let piece = b[at..at + n].to_vec();
                let to = rng.below(b.len() + 1);
                b.splice(to..to, piece);
            }
            _ if !extra.is_empty() => {
                let v = extra[rng.below(extra.len())];
                let end = (at + rng.below(8)).min(b.len());
                b.splice(at..end, v.iter().copied());
            }
            _ => {}
        }
    }
    b
}

fn frames() -> Vec<Vec<u8>> {
    let q = Query { model_id: frame::model_id("cnn"), seq: 7, scale: 0.5, zero_point: -3, dims: vec![1, 2, 3], data: vec![-128, -3, 0, 1, 2, 127] };
    vec![
        Frame::Query(q).encode(),
        Frame::Reply(Reply { model_id: 1, seq: 2, label: 3, score: Some(0.5) }).encode(),
        Frame::Error(ErrorFrame::new(1, 2, ErrorCode::BadQuery, "rank 9")).encode(),
    ]
}

#[test]
fn fuzz_frame_decoding_and_stream_reading() {
    let mut rng = Rng(seed());
    let seeds = frames();
    let t0 = Instant::now();
    let mut reader = FrameReader::new();
    let mut now = t0;
    let (mut ok, mut frames_found) = (0, 0);
    for _ in 0..iterations() {
        let pick = rng.below(seeds.len());
        let mut bytes = mutate(&mut rng, &seeds[pick], &[]);
        // Half the time the CRC is made right again, so that the payload
        // checks are reached.
        if rng.below(2) == 0 && bytes.len() >= frame::HEADER_LEN + frame::CRC_LEN {
            let (ty, payload) = (bytes[3], bytes[frame::HEADER_LEN..bytes.len() - frame::CRC_LEN].to_vec());
            bytes = frame::seal(ty, &payload);
        }
        if let Ok((f, n)) = Frame::decode(&bytes) {
            ok += 1;
            assert!(n <= bytes.len());
            if let Frame::Query(q) = &f {
                assert!(q.dequantize().iter().all(|v| v.is_finite()), "{q:?}");
                assert_eq!(Frame::decode(&f.encode()), Ok((f.clone(), f.encode().len())));
            }
        }
        // The same bytes, in random pieces, through one long-lived reader.
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(1 + rng.below(rest.len()));
            reader.push_at(piece, now);
            rest = tail;
            now += Duration::from_millis(rng.below(50) as u64);
            frames_found += reader.poll(now).len();
        }
        assert!(reader.pending() <= 2 * (frame::MAX_PAYLOAD + 64));
    }
    eprintln!("{ok} mutated frames decoded, {frames_found} results from the stream, in {:?}", t0.elapsed());
    assert!(ok > 0 && frames_found > 0);
}

fn model() -> ServedModel {
    ServedModel::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mnist/cnn_small.onnx")).unwrap()
}

#[test]
fn fuzz_kserve_requests() {
    let model = model();
    let mut rng = Rng(seed());
    let flat: Vec<String> = (0..784).map(|i| format!("{}", (i % 17) as f32 / 16.0)).collect();
    let rows: Vec<String> = flat.chunks(28).map(|r| format!("[{}]", r.join(","))).collect();
    let json = |dt: &str, data: &str, extra: &str| {
        format!(r#"{{"id":"1","inputs":[{{"name":"image","shape":[1,1,28,28],"datatype":"{dt}"{extra},"data":{data}}}],"outputs":[{{"name":"logits"}}]}}"#)
    };
    let binary_json = r#"{"inputs":[{"name":"image","shape":[1,1,28,28],"datatype":"FP32","parameters":{"binary_data_size":3136}}],"parameters":{"binary_data_output":true}}"#;
    let binary: Vec<u8> = (0..784).flat_map(|i| (i as f32 / 784.0).to_le_bytes()).collect();
    let seeds: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (json("FP32", &format!("[{}]", flat.join(",")), "").into_bytes(), vec![]),
        (json("FP32", &format!("[[[{}]]]", rows.join(",")), "").into_bytes(), vec![]),
        (json("UINT8", &format!("[{}]", vec!["255"; 784].join(",")), "").into_bytes(), vec![]),
        (json("FP64", "[[1e300]]", r#","parameters":{"x":null}"#).into_bytes(), vec![]),
        (binary_json.as_bytes().to_vec(), binary),
    ];
    let tokens: [&[u8]; 14] =
        [b"1e400", b"-1e39", b"NaN", b"null", b"[", b"]", b"[[", b"]]", b",", b"\"", b"-9223372036854775809", b"18446744073709551616", b"{}", b"0.5"];
    let t0 = Instant::now();
    let mut accepted = 0;
    for i in 0..iterations() {
        let (json, bin) = &seeds[i % seeds.len()];
        let json = mutate(&mut rng, json, &tokens);
        let bin = if rng.below(4) == 0 { mutate(&mut rng, bin, &[]) } else { bin.clone() };
        if let Ok(inputs) = serve::decode_request(&model, &json, &bin) {
            accepted += 1;
            for (shape, values) in &inputs {
                assert_eq!(shape.iter().product::<usize>(), values.len());
                assert!(values.iter().all(|v| v.is_finite()));
            }
        }
    }
    eprintln!("{accepted} of {} mutated requests accepted, in {:?}", iterations(), t0.elapsed());
    assert!(accepted > 0);
}
