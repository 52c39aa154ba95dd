//! Model blob reader and encoder: round trip, corruption, one test per error class.

mod common;

use common::{blob, fix_crc, random_model};
use firmware::model::*;
use firmware::numerics::Requant;
use proptest::prelude::*;

/// A small valid model: conv 3x3 (6x6x1 -> 4x4x2, pooled 2x2x2), hidden P layer 8 -> 3,
/// final dense 3 -> 2.
fn small() -> ModelDesc {
    let rq = |n| vec![Requant { m: 3, shift: 4 }; n];
    let mut entries = Vec::new();
    let row_len = [[1, 0, 0, 0, -2, 0, 0, 4], [0; 8], [0, 0, 0, 0, 0, 0, 0, -1]]
        .iter()
        .map(|r| encode_p_row(1, r, 4, &mut entries).unwrap())
        .collect();
    ModelDesc {
        input: Shape { h: 6, w: 6, c: 1 },
        class_names: vec!["cat".into(), "dög".into()],
        logit_scale: 0.03125,
        layers: vec![
            LayerDesc::Conv {
                k: 3,
                cin: 1,
                cout: 2,
                pool: true,
                weights: (0..18).map(|i| i as i8 - 9).collect(),
                bias: vec![100, -100],
                rq: rq(2),
            },
            LayerDesc::DenseP {
                n_in: 8,
                n_out: 3,
                bits: 4,
                n2: -3,
                row_len,
                entries,
                bias: vec![1, 2, 3],
                rq: Some(rq(3)),
            },
            LayerDesc::Dense {
                n_in: 3,
                n_out: 2,
                weights: vec![1, -1, 2, 127, -127, 0],
                bias: vec![-5, 5],
                rq: None,
            },
        ],
    }
}

#[test]
fn round_trip_small() {
    let d = small();
    let b = blob(&d);
    assert_eq!(b.len() % 4, 0);
    let m = Model::parse(&b).unwrap();
    assert_eq!(m.input_shape(), d.input);
    assert_eq!(m.n_classes(), 2);
    assert_eq!(m.logit_scale(), 0.03125);
    assert_eq!(m.class_names().collect::<Vec<_>>(), ["cat", "dög"]);
    assert_eq!(m.class_name(1), Some("dög"));
    assert_eq!(m.class_name(2), None);
    assert_eq!(m.n_layers(), 3);
    let l: Vec<Layer> = m.layers().collect();
    assert_eq!(
        l[0].kind,
        LayerKind::Conv {
            k: 3,
            cin: 1,
            cout: 2,
            pool: true
        }
    );
    assert_eq!(l[0].output, Shape { h: 2, w: 2, c: 2 });
    assert_eq!(
        l[1].kind,
        LayerKind::DenseP {
            n_in: 8,
            n_out: 3,
            bits: 4,
            n2: -3
        }
    );
    assert_eq!(l[1].input, Shape { h: 2, w: 2, c: 2 });
    assert!(l[2].is_final && l[2].rq.is_none());
    assert_eq!(l[0].bias.iter().collect::<Vec<_>>(), [100, -100]);
    assert_eq!(
        l[1].rq.unwrap().iter().collect::<Vec<_>>(),
        vec![Requant { m: 3, shift: 4 }; 3]
    );
    assert_eq!(l[1].row_len.iter().collect::<Vec<_>>(), [3, 0, 1]);
    assert_eq!(l[2].weights, [1, -1, 2, 127, -127, 0]);
    // P layer: 4 non-zero entries (3 + 1), conv: 4 pooled positions x 2x2 pool x 9 x 1 x 2
    assert_eq!(l[1].macs(), 4);
    assert_eq!(l[0].macs(), 4 * 4 * 9 * 2);
    assert_eq!(m.max_activation(), 8);
    // every array is 4-byte aligned relative to the blob start
    for layer in &l {
        for ptr in [
            layer.weights.as_ptr() as usize,
            layer.bias.as_bytes().as_ptr() as usize,
        ] {
            assert_eq!((ptr - b.as_ptr() as usize) % 4, 0);
        }
        if let Some(rq) = layer.rq {
            assert_eq!(
                (rq.m.as_bytes().as_ptr() as usize - b.as_ptr() as usize) % 4,
                0
            );
            assert_eq!((rq.shift.as_ptr() as usize - b.as_ptr() as usize) % 4, 0);
        }
    }
}

#[test]
fn parse_does_not_need_an_aligned_host_buffer() {
    let b = blob(&small());
    let mut shifted = vec![0u8; b.len() + 1];
    shifted[1..].copy_from_slice(&b);
    let m = Model::parse(&shifted[1..]).unwrap();
    assert_eq!(
        m.layer(0).unwrap().bias.iter().collect::<Vec<_>>(),
        [100, -100]
    );
}

#[test]
fn parse_prefix_ignores_trailing_bytes_parse_does_not() {
    let mut b = blob(&small());
    let n = b.len();
    b.extend_from_slice(&[0xEE; 9]);
    assert_eq!(Model::parse_prefix(&b).unwrap().blob().len(), n);
    assert_eq!(
        Model::parse(&b),
        Err(FormatError::LengthMismatch {
            header: n,
            actual: n + 9
        })
    );
}

#[test]
fn truncation_at_every_length_is_an_error() {
    let b = blob(&small());
    for n in 0..b.len() {
        let e = Model::parse(&b[..n]).unwrap_err();
        let e2 = Model::parse_prefix(&b[..n]).unwrap_err();
        if n >= HEADER_LEN {
            assert_eq!(
                e,
                FormatError::LengthMismatch {
                    header: b.len(),
                    actual: n
                }
            );
            assert_eq!(
                e2,
                FormatError::Truncated {
                    need: b.len(),
                    have: n
                }
            );
        } else if n >= 4 {
            assert_eq!(
                e,
                FormatError::Truncated {
                    need: HEADER_LEN,
                    have: n
                }
            );
        }
    }
}

#[test]
fn flipping_any_byte_is_an_error() {
    let b = blob(&small());
    for i in 0..b.len() {
        for bit in [0x01u8, 0x80, 0xFF] {
            let mut c = b.clone();
            c[i] ^= bit;
            assert!(Model::parse(&c).is_err(), "flip {bit:#x} at {i} accepted");
        }
    }
}

/// Patches a layer-record field and the CRC, then parses.
fn patched(f: impl FnOnce(&mut Vec<u8>, usize)) -> Result<(), FormatError> {
    let mut b = blob(&small());
    let table = u32::from_le_bytes(b[32..36].try_into().unwrap()) as usize;
    f(&mut b, table);
    fix_crc(&mut b);
    Model::parse(&b).map(|_| ())
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn structural_errors_are_typed() {
    use FormatError::*;
    let rec = |i: usize| i * LAYER_RECORD_LEN;
    assert!(matches!(
        patched(|b, _| b[0] = b'X'),
        Err(BadMagic {
            found: [b'X', b'N', b'N', b'F']
        })
    ));
    assert_eq!(
        patched(|b, _| b[4] = 9),
        Err(UnsupportedVersion { found: 9 })
    );
    assert!(matches!(
        patched(|b, _| b[6] = 1),
        Err(BadHeader { field: "flags", .. })
    ));
    assert!(matches!(
        patched(|b, _| b[12] = 0),
        Err(BadHeader { field: "in_h", .. })
    ));
    assert!(matches!(
        patched(|b, _| b[18] = 0),
        Err(BadHeader {
            field: "n_classes",
            ..
        })
    ));
    // logit scale NaN / negative / zero
    assert!(matches!(
        patched(|b, _| put32(b, 20, f32::NAN.to_bits())),
        Err(BadHeader {
            field: "logit_scale",
            ..
        })
    ));
    assert!(matches!(
        patched(|b, _| put32(b, 20, (-1.0f32).to_bits())),
        Err(BadHeader {
            field: "logit_scale",
            ..
        })
    ));
    assert!(matches!(
        patched(|b, _| put32(b, 20, 0)),
        Err(BadHeader {
            field: "logit_scale",
            ..
        })
    ));
    assert!(matches!(
        patched(|b, _| b[24] = 0),
        Err(BadHeader {
            field: "n_layers",
            ..
        })
    ));
    assert!(matches!(
        patched(|b, _| b[24] = 17),
        Err(BadHeader {
            field: "n_layers",
            ..
        })
    ));
    // names: bad UTF-8, zero length
    assert_eq!(
        patched(|b, _| b[HEADER_LEN + 1] = 0xFF),
        Err(BadName { class: 0 })
    );
    assert_eq!(
        patched(|b, _| b[HEADER_LEN + 4] = 0),
        Err(BadName { class: 1 })
    );
    // table misaligned
    assert!(matches!(
        patched(|b, _| put32(b, 32, 46)),
        Err(BadOffset {
            array: Array::LayerTable,
            ..
        })
    ));
    // layer kind, flags, reserved
    assert!(matches!(
        patched(|b, t| b[t + rec(0)] = 7),
        Err(BadLayer {
            layer: 0,
            field: "kind",
            ..
        })
    ));
    assert!(matches!(
        patched(|b, t| b[t + rec(1) + 1] |= FLAG_POOL),
        Err(BadLayer {
            layer: 1,
            field: "flags",
            ..
        })
    ));
    assert!(matches!(
        patched(|b, t| b[t + rec(1) + 36] = 1),
        Err(BadLayer {
            layer: 1,
            field: "reserved",
            ..
        })
    ));
    // final flag moved / missing
    assert_eq!(
        patched(|b, t| b[t + rec(2) + 1] = 0),
        Err(BadFinalLayer { layer: 2 })
    );
    assert_eq!(
        patched(|b, t| b[t + rec(1) + 1] = FLAG_FINAL),
        Err(BadFinalLayer { layer: 1 })
    );
    // shape chain: conv cin, dense n_in
    assert_eq!(
        patched(|b, t| put32(b, t + rec(0) + 4, 2)),
        Err(ShapeMismatch {
            layer: 0,
            expected: 1,
            got: 2
        })
    );
    assert_eq!(
        patched(|b, t| put32(b, t + rec(2) + 4, 4)),
        Err(ShapeMismatch {
            layer: 2,
            expected: 3,
            got: 4
        })
    );
    // kernel larger than the input
    assert!(matches!(
        patched(|b, t| b[t + rec(0) + 2] = 7),
        Err(ShapeMismatch { layer: 0, .. })
    ));
    // offsets: misaligned, past the end, huge
    assert!(matches!(
        patched(|b, t| {
            let o = u32::from_le_bytes(b[t + 20..t + 24].try_into().unwrap());
            put32(b, t + 20, o + 2)
        }),
        Err(BadOffset {
            layer: 0,
            array: Array::Bias,
            ..
        })
    ));
    assert!(matches!(
        patched(|b, t| put32(b, t + rec(2) + 12, 0xFFFF_FFFC)),
        Err(BadOffset {
            layer: 2,
            array: Array::Weights,
            ..
        })
    ));
    assert!(matches!(
        patched(|b, t| put32(b, t + rec(1) + 32, 0)),
        Err(BadOffset {
            layer: 1,
            array: Array::RowLen,
            ..
        })
    ));
    // class count
    assert!(matches!(
        patched(|b, _| b[18] = 3),
        Err(ClassCount {
            classes: 3,
            outputs: 2
        }) | Err(BadName { .. })
            | Err(BadOffset { .. })
    ));
}

#[test]
fn numeric_errors_are_typed() {
    use FormatError::*;
    let with = |edit: &dyn Fn(&mut ModelDesc)| {
        let mut d = small();
        edit(&mut d);
        encode(&d).map(|_| ())
    };
    // requant out of range
    assert_eq!(
        with(&|d| if let LayerDesc::Conv { rq, .. } = &mut d.layers[0] {
            rq[1] = Requant { m: 32768, shift: 4 }
        }),
        Err(BadRequant {
            layer: 0,
            channel: 1,
            m: 32768,
            shift: 4
        })
    );
    assert!(matches!(
        with(&|d| if let LayerDesc::Conv { rq, .. } = &mut d.layers[0] {
            rq[0].shift = 48
        }),
        Err(BadRequant {
            layer: 0,
            channel: 0,
            ..
        })
    ));
    assert!(matches!(
        with(&|d| if let LayerDesc::Conv { rq, .. } = &mut d.layers[0] {
            rq[0].shift = 0
        }),
        Err(BadRequant { .. })
    ));
    // -128 weight
    assert_eq!(
        with(
            &|d| if let LayerDesc::Dense { weights, .. } = &mut d.layers[2] {
                weights[4] = -128
            }
        ),
        Err(WeightOutOfRange { layer: 2, index: 4 })
    );
    // accumulator bound: |bias| + 255 * sum|w| must stay below 2^31
    // sum|w| of output 0 of the final layer = 1 + 1 + 2 = 4 -> bias up to 2^31 - 1 - 1020
    let edge = (1i32 << 30) + ((1 << 30) - 1 - 1020);
    assert_eq!(
        with(
            &|d| if let LayerDesc::Dense { bias, .. } = &mut d.layers[2] {
                bias[0] = edge
            }
        ),
        Ok(())
    );
    assert_eq!(
        with(
            &|d| if let LayerDesc::Dense { bias, .. } = &mut d.layers[2] {
                bias[0] = edge + 1
            }
        ),
        Err(AccumulatorOverflow {
            layer: 2,
            channel: 0
        })
    );
    assert_eq!(
        with(
            &|d| if let LayerDesc::Dense { bias, .. } = &mut d.layers[2] {
                bias[1] = i32::MIN
            }
        ),
        Err(AccumulatorOverflow {
            layer: 2,
            channel: 1
        })
    );
    // P codes: negative zero, row past the input, big shifts overflow the bound
    let p = |entries: Vec<u8>, row_len: Vec<u16>| {
        move |d: &mut ModelDesc| {
            if let LayerDesc::DenseP {
                entries: e,
                row_len: r,
                ..
            } = &mut d.layers[1]
            {
                *e = entries.clone();
                *r = row_len.clone();
            }
        }
    };
    assert_eq!(
        with(&p(vec![0b0000_1000], vec![1, 0, 0])),
        Err(BadPCode {
            layer: 1,
            entry: 0,
            byte: 8
        })
    );
    // skip 8 then a weight at cursor 8 == n_in: overrun
    assert_eq!(
        with(&p(vec![(8 << 4) | 1], vec![1, 0, 0])),
        Err(PRowOverrun { layer: 1, row: 0 })
    );
    // two fillers of 5 positions each = cursor 10 > 8: overrun even without a weight
    assert_eq!(
        with(&p(vec![4 << 4, 4 << 4], vec![0, 2, 0])),
        Err(PRowOverrun { layer: 1, row: 1 })
    );
    // row lengths must add up to the entry count
    assert_eq!(
        with(&p(vec![1, 1], vec![1, 0, 0])),
        Err(ShapeMismatch {
            layer: 1,
            expected: 1,
            got: 2
        })
    );
    // 4-bit codes: magnitude 7 = weight 2^6; 8 inputs x 2^6 x 255 fits, but bits = 7 allows 2^62
    assert_eq!(with(&p(vec![7; 8], vec![8, 0, 0])), Ok(()));
    assert_eq!(
        with(&|d| if let LayerDesc::DenseP {
            bits,
            entries,
            row_len,
            ..
        } = &mut d.layers[1]
        {
            *bits = 7;
            *entries = vec![0x3F];
            *row_len = vec![1, 0, 0];
        }),
        Err(AccumulatorOverflow {
            layer: 1,
            channel: 0
        })
    );
    // encoder-side checks
    assert_eq!(
        with(&|d| d.class_names[0] = "x".repeat(33)),
        Err(BadName { class: 0 })
    );
    assert_eq!(
        with(&|d| d.class_names.clear()),
        Err(BadHeader {
            field: "n_classes",
            value: 0
        })
    );
    assert!(matches!(
        with(&|d| d.class_names.push("z".into())),
        Err(ClassCount {
            classes: 3,
            outputs: 2
        })
    ));
    assert_eq!(
        with(&|d| if let LayerDesc::Dense { rq, .. } = &mut d.layers[2] {
            *rq = Some(vec![Requant { m: 1, shift: 1 }; 2])
        }),
        Err(BadFinalLayer { layer: 2 })
    );
    assert_eq!(
        with(
            &|d| if let LayerDesc::Conv { bias, .. } = &mut d.layers[0] {
                bias.pop();
            }
        ),
        Err(ShapeMismatch {
            layer: 0,
            expected: 2,
            got: 1
        })
    );
    // pooling a 1-wide conv output leaves nothing
    assert_eq!(
        with(&|d| d.input = Shape { h: 3, w: 6, c: 1 }),
        Err(BadShape { layer: 0 })
    );
}

/// `h x w x c` input, a `k x k` convolution to `cout` channels, a one-class P head.
fn conv_then_head(h: usize, w: usize, c: usize, k: u8, cout: usize) -> ModelDesc {
    let kk = usize::from(k);
    let n_in = (h + 1 - kk) * (w + 1 - kk) * cout;
    let mut entries = Vec::new();
    let mut row = vec![0; n_in];
    row[0] = 1;
    let row_len = vec![encode_p_row(1, &row, 3, &mut entries).unwrap()];
    ModelDesc {
        input: Shape { h, w, c },
        class_names: vec!["x".into()],
        logit_scale: 1.0,
        layers: vec![
            LayerDesc::Conv {
                k,
                cin: c,
                cout,
                pool: false,
                weights: vec![1; cout * kk * kk * c],
                bias: vec![0; cout],
                rq: vec![Requant { m: 1, shift: 1 }; cout],
            },
            LayerDesc::DenseP {
                n_in,
                n_out: 1,
                bits: 3,
                n2: 0,
                row_len,
                entries,
                bias: vec![0],
                rq: None,
            },
        ],
    }
}

#[test]
fn size_limits_are_typed() {
    use FormatError::TooLarge;
    let act = MAX_ACTIVATION_BYTES as u64;
    // exactly at the activation limit: accepted (input and conv output 1 MiB each)
    let b = encode(&conv_then_head(1024, 1024, 1, 1, 1)).unwrap();
    let m = Model::parse(&b).unwrap();
    assert_eq!(
        firmware::runner::arena_bytes(&m),
        2 * MAX_ACTIVATION_BYTES + 3
    );
    // one column more: the input is over
    assert_eq!(
        encode(&conv_then_head(1024, 1025, 1, 1, 1)),
        Err(TooLarge {
            layer: 0,
            limit: Limit::InputBytes,
            value: 1024 * 1025,
            max: act
        })
    );
    // two output channels: layer 0's output is over
    assert_eq!(
        encode(&conv_then_head(1024, 1024, 1, 1, 2)),
        Err(TooLarge {
            layer: 0,
            limit: Limit::ActivationBytes,
            value: 2 << 20,
            max: act
        })
    );
    // small activations, too much arithmetic: 504 * 504 px * 9 * 9 * 4 * 4
    assert_eq!(
        encode(&conv_then_head(512, 512, 4, 9, 4)),
        Err(TooLarge {
            layer: 0,
            limit: Limit::Macs,
            value: 504 * 504 * 81 * 16,
            max: MAX_MACS
        })
    );
    // total_len over the blob limit: refused before the CRC is computed over it
    let mut b = blob(&small());
    put32(&mut b, 8, (MAX_BLOB_LEN + 4) as u32);
    let e = Model::parse_prefix(&b).unwrap_err();
    assert_eq!(
        e,
        TooLarge {
            layer: 0,
            limit: Limit::BlobBytes,
            value: (MAX_BLOB_LEN + 4) as u64,
            max: MAX_BLOB_LEN as u64
        }
    );
    assert_eq!(e.code(), 19);
    assert_eq!(
        e.to_string(),
        "blob bytes 16777220 exceed the limit 16777216"
    );
}

#[test]
fn errors_display_and_codes_are_distinct() {
    let errs = [
        FormatError::Truncated { need: 1, have: 0 },
        FormatError::BadMagic { found: *b"ABCD" },
        FormatError::BadCrc {
            stored: 1,
            computed: 2,
        },
        FormatError::AccumulatorOverflow {
            layer: 1,
            channel: 2,
        },
    ];
    let codes: Vec<u8> = errs.iter().map(|e| e.code()).collect();
    assert_eq!(codes, [1, 2, 5, 18]);
    assert_eq!(errs[1].to_string(), "bad magic 0x41424344");
    let _: &dyn std::error::Error = &errs[0];
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_models_round_trip(seed in any::<u64>()) {
        let d = random_model(seed);
        let b = blob(&d);
        let m = Model::parse(&b).unwrap();
        prop_assert_eq!(m.n_layers(), d.layers.len());
        prop_assert_eq!(m.class_names().count(), d.class_names.len());
        for (l, ld) in m.layers().zip(&d.layers) {
            match ld {
                LayerDesc::Conv { weights, bias, rq, .. } => {
                    prop_assert_eq!(l.weights, &weights[..]);
                    prop_assert_eq!(&l.bias.iter().collect::<Vec<_>>(), bias);
                    prop_assert_eq!(&l.rq.unwrap().iter().collect::<Vec<_>>(), rq);
                }
                LayerDesc::Dense { weights, bias, rq, .. } => {
                    prop_assert_eq!(l.weights, &weights[..]);
                    prop_assert_eq!(&l.bias.iter().collect::<Vec<_>>(), bias);
                    prop_assert_eq!(l.rq.map(|q| q.iter().collect::<Vec<_>>()), rq.clone());
                }
                LayerDesc::DenseP { entries, row_len, bias, .. } => {
                    prop_assert_eq!(l.entries, &entries[..]);
                    prop_assert_eq!(&l.row_len.iter().collect::<Vec<_>>(), row_len);
                    prop_assert_eq!(&l.bias.iter().collect::<Vec<_>>(), bias);
                }
            }
        }
    }
}
