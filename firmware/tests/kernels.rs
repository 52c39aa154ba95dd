//! Optimised kernels (`firmware::kernels`) against the reference loops (`firmware::numerics`):
//! proptest over shapes and values, plus named regression cases. Integer paths: `assert_eq!`.

mod common;

use common::Rng;
use firmware::args::{ArgsError, ConvArgs, DenseArgs, DenseOut, DensePArgs};
use firmware::kernels::{self, dot, DenseAsP, PIndex, PINDEX_MAX_N_IN};
use firmware::model::{encode_p_row, I32s, RequantParams, Shape, U16s};
use firmware::numerics::{self, requantize, scale, PCode, Requant, MULT_MAX, SHIFT_MAX, SHIFT_MIN};
use proptest::prelude::*;

fn le_i32(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn le_u16(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Words that always hold a P layer's whole index: per row an end mark and at most 64 group
/// headers, plus one word per entry.
fn full_store(args: &DensePArgs<'_>) -> usize {
    args.row_len.len() * (1 + 2 * 64) + args.entries.len()
}

/// `kernels::dense_p_indexed` with an index built into `words` words of storage: the result,
/// the outputs (written over `init`) and the rows the index covers.
fn indexed<T: Clone>(
    args: &DensePArgs<'_>,
    words: usize,
    init: &[T],
    run: impl Fn(&DensePArgs<'_>, &PIndex<'_>, &mut [T]) -> Result<(), ArgsError>,
) -> (Result<(), ArgsError>, Vec<T>, usize) {
    let mut store = vec![0xA5A5u16; words];
    let index = PIndex::build(
        args.entries,
        args.row_len,
        args.bits,
        args.input.len(),
        &mut store,
    );
    assert!(index.words() <= words);
    let mut out = init.to_vec();
    let res = run(args, &index, &mut out);
    (res, out, index.rows())
}

fn indexed_logits(args: &DensePArgs<'_>, words: usize) -> (Result<(), ArgsError>, Vec<i32>, usize) {
    let init = vec![0x5555_5555; args.row_len.len()];
    indexed(args, words, &init, |a, i, out| {
        kernels::dense_p_indexed(a, Some(i), DenseOut::Logits(out))
    })
}

struct RqBytes {
    m: Vec<u8>,
    shift: Vec<u8>,
}
impl RqBytes {
    fn new(rq: &[Requant]) -> Self {
        RqBytes {
            m: le_u16(&rq.iter().map(|q| q.m).collect::<Vec<_>>()),
            shift: rq.iter().map(|q| q.shift).collect(),
        }
    }
    fn view(&self) -> RequantParams<'_> {
        RequantParams {
            m: U16s::new(&self.m),
            shift: &self.shift,
        }
    }
}

/// Conv case: reference vs kernel, returns the kernel output.
#[allow(clippy::too_many_arguments)]
fn check_conv(
    input: &[u8],
    s: Shape,
    k: usize,
    cout: usize,
    pool: bool,
    w: &[i8],
    bias: &[i32],
    rq: &[Requant],
) -> Vec<u8> {
    let args0 = ConvArgs {
        input,
        in_shape: s,
        k,
        cout,
        pool,
        weights: w,
        bias: I32s::new(&[]),
        rq: RequantParams {
            m: U16s::new(&[]),
            shift: &[],
        },
    };
    let os = args0.out_shape().unwrap();
    let mut want = vec![0u8; os.len()];
    numerics::conv2d(input, s.h, s.w, s.c, w, bias, rq, k, cout, pool, &mut want);
    let b = le_i32(bias);
    let q = RqBytes::new(rq);
    let args = ConvArgs {
        bias: I32s::new(&b),
        rq: q.view(),
        ..args0
    };
    let mut got = vec![0xAAu8; os.len()];
    kernels::conv2d(&args, &mut got).unwrap();
    assert_eq!(got, want, "conv {s:?} k={k} cout={cout} pool={pool}");
    got
}

fn check_dense(input: &[u8], w: &[i8], bias: &[i32], rq: Option<&[Requant]>) {
    let n_out = bias.len();
    let mut acc = vec![0i32; n_out];
    numerics::dense_acc(input, w, bias, &mut acc);
    let b = le_i32(bias);
    let args = DenseArgs {
        input,
        weights: w,
        bias: I32s::new(&b),
    };
    match rq {
        None => {
            let mut got = vec![0i32; n_out];
            kernels::dense(&args, DenseOut::Logits(&mut got)).unwrap();
            assert_eq!(got, acc);
        }
        Some(rq) => {
            let mut want = vec![0u8; n_out];
            numerics::requantize_all(&acc, rq, &mut want);
            let q = RqBytes::new(rq);
            let mut got = vec![0u8; n_out];
            kernels::dense(
                &args,
                DenseOut::Act {
                    rq: q.view(),
                    out: &mut got,
                },
            )
            .unwrap();
            assert_eq!(got, want);
        }
    }
}

fn check_dense_p(
    input: &[u8],
    entries: &[u8],
    rows: &[u16],
    bits: u8,
    bias: &[i32],
    rq: Option<&[Requant]>,
) {
    let n_out = bias.len();
    let mut acc = vec![0i32; n_out];
    numerics::dense_p_acc(input, entries, rows, bits, bias, &mut acc);
    let b = le_i32(bias);
    let r = le_u16(rows);
    let args = DensePArgs {
        input,
        entries,
        row_len: U16s::new(&r),
        bits,
        bias: I32s::new(&b),
    };
    // the walk, and the index with room for every row, for none and for some
    let full = full_store(&args);
    let sizes = [full, 0, full / 2, full / 5 + 3];
    match rq {
        None => {
            let mut got = vec![0i32; n_out];
            kernels::dense_p(&args, DenseOut::Logits(&mut got)).unwrap();
            assert_eq!(got, acc);
            for words in sizes {
                let (res, got, rows) = indexed_logits(&args, words);
                assert_eq!((res, got), (Ok(()), acc.clone()), "index of {words} words");
                if words == full {
                    assert_eq!(rows, n_out);
                }
            }
        }
        Some(rq) => {
            let mut want = vec![0u8; n_out];
            numerics::requantize_all(&acc, rq, &mut want);
            let q = RqBytes::new(rq);
            let mut got = vec![0u8; n_out];
            kernels::dense_p(
                &args,
                DenseOut::Act {
                    rq: q.view(),
                    out: &mut got,
                },
            )
            .unwrap();
            assert_eq!(got, want);
            for words in sizes {
                let (res, got, _) = indexed(&args, words, &vec![0u8; n_out], |a, i, out| {
                    kernels::dense_p_indexed(a, Some(i), DenseOut::Act { rq: q.view(), out })
                });
                assert_eq!((res, got), (Ok(()), want.clone()), "index of {words} words");
            }
        }
    }
}

/// NP dense weights for the signed-digit tests: the full `i8` range (`-128` too, which the model
/// reader rejects but the kernels take), with the edge values and all-zero rows made common.
fn dense_as_p_weights(r: &mut Rng, n_in: usize, n_out: usize) -> Vec<i8> {
    let edges = [-128, 127, -127, 0, 85, -85, 1, -1, 86, -86, 64, -64];
    let mut w = Vec::with_capacity(n_in * n_out);
    for _ in 0..n_out {
        let (zero_row, edge_pct) = (r.chance(15), r.range(0, 100) as u32);
        for _ in 0..n_in {
            w.push(if zero_row {
                0
            } else if r.chance(edge_pct) {
                edges[r.usize(0, edges.len() - 1)]
            } else {
                r.next() as i8
            });
        }
    }
    w
}

/// Bias for the signed-digit tests: ordinary values, or near `i32::MIN`/`i32::MAX` so that the
/// accumulators wrap (the NP kernel wraps; so must the P layer).
fn dense_as_p_bias(r: &mut Rng, n_out: usize) -> Vec<i32> {
    if r.chance(30) {
        (0..n_out)
            .map(|_| {
                let k = r.range(0, 1 << 20) as i32;
                if r.chance(50) {
                    i32::MAX - k
                } else {
                    i32::MIN + k
                }
            })
            .collect()
    } else {
        r.bias(n_out)
    }
}

/// Largest NAF digit count over `w` (at least 1) and the smallest code width holding every
/// digit's shift, computed independently of the kernel (by the NAF recursion).
fn naf_digits_and_bits(w: &[i8]) -> (usize, u8) {
    let (mut digits, mut top) = (1usize, 0u32);
    for &x in w {
        let (mut v, mut s, mut n) = (i32::from(x), 0u32, 0usize);
        while v != 0 {
            if v & 1 != 0 {
                let d = 2 - (v & 3); // +1 or -1: the next digit of the non-adjacent form
                v -= d;
                n += 1;
                top = top.max(s);
            }
            v >>= 1;
            s += 1;
        }
        digits = digits.max(n);
    }
    let bits = (numerics::PBITS_MIN..=numerics::PBITS_MAX)
        .find(|&b| u32::from(PCode::max_shift(b)) >= top)
        .unwrap();
    (digits, bits)
}

/// An NP dense layer through its P layer ([`kernels::DenseAsP`]): the table built at every
/// storage alignment, then the software P kernel and the P reference (`dense_p_acc`, which the
/// P engine implements bit for bit) on it, against the NP reference and kernel. Returns the
/// table bytes.
fn check_dense_as_p(input: &[u8], w: &[i8], bias: &[i32], rq: Option<&[Requant]>) -> usize {
    let (n_in, n_out) = (input.len(), bias.len());
    let mut acc = vec![0i32; n_out];
    numerics::dense_acc(input, w, bias, &mut acc);
    let b = le_i32(bias);
    let args = DenseArgs {
        input,
        weights: w,
        bias: I32s::new(&b),
    };
    let (digits, bits) = naf_digits_and_bits(w);
    let bound = kernels::dense_as_p_bound(n_in, n_out);
    let mut bytes = 0;
    for off in 0..4 {
        let mut store = vec![0xA5u8; bound + off];
        let Ok((mut t, rest)) = DenseAsP::build(w, n_in, n_out, &mut store[off..]) else {
            panic!("{n_in} -> {n_out}: no table in {bound} bytes");
        };
        assert_eq!((t.digits(), t.bits()), (digits, bits), "{n_in} -> {n_out}");
        assert!(t.bytes() + rest.len() <= bound);
        bytes = t.bytes();
        // the P layer as the engine computes it: the P reference, raw accumulators
        let p = t.p_layer(&args).expect("built for these arguments");
        assert_eq!(p.input.len(), digits * n_in);
        assert!(p.input.chunks(n_in).all(|c| c == input), "input copies");
        let rows: Vec<u16> = p.row_len.iter().collect();
        let mut p_acc = vec![0i32; n_out];
        numerics::dense_p_acc(p.input, p.entries, &rows, p.bits, bias, &mut p_acc);
        assert_eq!(p_acc, acc, "P reference vs NP reference, {n_in} -> {n_out}");
        // and the software P kernel through `dense_via_p`, with the layer's output stage
        match rq {
            None => {
                let mut got = vec![0x5555_5555; n_out];
                kernels::dense_via_p(&args, &mut t, DenseOut::Logits(&mut got)).unwrap();
                assert_eq!(got, acc, "logits, {n_in} -> {n_out}");
            }
            Some(rq) => {
                let mut want = vec![0u8; n_out];
                numerics::requantize_all(&acc, rq, &mut want);
                let q = RqBytes::new(rq);
                let mut got = vec![0xAAu8; n_out];
                let out = DenseOut::Act {
                    rq: q.view(),
                    out: &mut got,
                };
                kernels::dense_via_p(&args, &mut t, out).unwrap();
                assert_eq!(got, want, "activations, {n_in} -> {n_out}");
            }
        }
    }
    // the NP kernel agrees with the reference too (the layer the P layer replaces)
    check_dense(input, w, bias, rq);
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn dense_as_p_matches_dense(
        n_in in 1usize..400, n_out in 1usize..12, logits in any::<bool>(), seed in any::<u64>(),
    ) {
        let mut r = Rng::new(seed);
        let w = dense_as_p_weights(&mut r, n_in, n_out);
        let mut input = r.bytes(n_in);
        for x in input.iter_mut() {
            if r.chance(20) {
                *x = if r.chance(50) { 0 } else { 255 };
            }
        }
        let bias = dense_as_p_bias(&mut r, n_out);
        let rq = r.rq(n_out);
        check_dense_as_p(&input, &w, &bias, (!logits).then_some(&rq[..]));
    }

    #[test]
    fn dot_matches_naive(a in proptest::collection::vec(any::<u8>(), 0..40), seed in any::<u64>()) {
        let w = Rng::new(seed).weights(a.len());
        let want = a.iter().zip(&w).fold(0i32, |s, (&x, &y)| s.wrapping_add(i32::from(x) * i32::from(y)));
        prop_assert_eq!(dot(&a, &w), want);
    }

    #[test]
    fn conv_matches_reference(
        h in 1usize..10, w in 1usize..10, c in 1usize..5, cout in 1usize..6,
        k in 1usize..5, pool in any::<bool>(), seed in any::<u64>(),
    ) {
        prop_assume!(k <= h && k <= w);
        prop_assume!(!pool || (h + 1 - k >= 2 && w + 1 - k >= 2));
        let mut r = Rng::new(seed);
        let s = Shape { h, w, c };
        let input = r.bytes(s.len());
        check_conv(&input, s, k, cout, pool, &r.weights(cout * k * k * c), &r.bias(cout), &r.rq(cout));
    }

    #[test]
    fn dense_matches_reference(n_in in 1usize..70, n_out in 1usize..12, logits in any::<bool>(), seed in any::<u64>()) {
        let mut r = Rng::new(seed);
        let rq = r.rq(n_out);
        check_dense(&r.bytes(n_in), &r.weights(n_in * n_out), &r.bias(n_out), (!logits).then_some(&rq[..]));
    }

    #[test]
    fn dense_p_matches_reference(
        n_in in 1usize..300, n_out in 1usize..10, bits in 2u8..=7, logits in any::<bool>(), seed in any::<u64>(),
    ) {
        let mut r = Rng::new(seed);
        let mut entries = Vec::new();
        let rows: Vec<u16> = (0..n_out)
            .map(|_| encode_p_row(0, &r.p_row(n_in, bits), bits, &mut entries).unwrap())
            .collect();
        let rq = r.rq(n_out);
        check_dense_p(&r.bytes(n_in), &entries, &rows, bits, &r.bias(n_out), (!logits).then_some(&rq[..]));
    }

    #[test]
    fn dense_p_arbitrary_entries_match_an_entry_at_a_time_walk(
        n_in in 1usize..400, rows in proptest::collection::vec(0u16..120, 1..6),
        bits in 2u8..=7, seed in any::<u64>(), store_cut in any::<usize>(),
    ) {
        // any entry bytes (negative zeros, shifts >= 32, rows that leave the input): the
        // table-driven, four-at-a-time kernel must equal one entry at a time with a bounds
        // check on every weight read (the kernel before the table; a filler past the input's
        // end is not an error, a weight there is ArgsError::PRow), its first error included
        let mut r = Rng::new(seed);
        let entries = r.bytes(rows.iter().map(|&n| usize::from(n)).sum());
        let input = r.bytes(n_in);
        let bias = r.bias(rows.len());
        let mag_mask = (1u8 << (bits - 1)) - 1;
        let mut want = Ok(());
        let mut acc = vec![0i32; rows.len()];
        let mut rest = &entries[..];
        for (o, &n) in rows.iter().enumerate() {
            let (row, tail) = rest.split_at(usize::from(n));
            rest = tail;
            let (mut a, mut cursor) = (bias[o], 0usize);
            for &e in row {
                cursor += usize::from(e >> bits);
                let mag = e & mag_mask;
                if mag != 0 {
                    let Some(&x) = input.get(cursor) else {
                        want = Err(ArgsError::PRow { row: o });
                        break;
                    };
                    let t = i32::from(x).wrapping_shl(u32::from(mag) - 1);
                    a = if e & (1 << (bits - 1)) != 0 { a.wrapping_sub(t) } else { a.wrapping_add(t) };
                }
                cursor += 1;
            }
            if want.is_err() {
                break;
            }
            acc[o] = a;
        }
        let (b, rl) = (le_i32(&bias), le_u16(&rows));
        let args = DensePArgs { input: &input, entries: &entries, row_len: U16s::new(&rl), bits, bias: I32s::new(&b) };
        let mut got = vec![0x5555_5555; rows.len()];
        let res = kernels::dense_p(&args, DenseOut::Logits(&mut got));
        prop_assert_eq!(res, want);
        if res.is_ok() {
            prop_assert_eq!(&got, &acc);
        }
        // the index, whole or cut short by its storage: the same result, error and outputs
        // (the rows before an error are written, the others left alone); its build stops at
        // the first row that leaves the input (the walk reports it) or does not fit
        let full = full_store(&args);
        for words in [full, 0, store_cut % (full + 1)] {
            let (ires, igot, covered) = indexed_logits(&args, words);
            prop_assert_eq!(ires, res, "index of {} words", words);
            prop_assert_eq!(&igot, &got, "index of {} words", words);
            if let Err(ArgsError::PRow { row }) = res {
                prop_assert!(covered <= row);
            } else if words == full {
                prop_assert_eq!(covered, rows.len());
            }
        }
    }

    #[test]
    fn p_row_encoding_is_exact(n_in in 1usize..400, bits in 2u8..=7, seed in any::<u64>()) {
        // decoding the entries of a row gives back exactly the weights (dense_p_acc on one-hot inputs
        // would be slower; decode directly)
        let mut r = Rng::new(seed);
        let row = r.p_row(n_in, bits);
        let mut entries = Vec::new();
        let n = encode_p_row(0, &row, bits, &mut entries).unwrap();
        prop_assert_eq!(usize::from(n), entries.len());
        let mut back = vec![0i32; n_in];
        let mut cursor = 0usize;
        for &e in &entries {
            let c = PCode::decode(e, bits);
            prop_assert!(c.is_valid());
            cursor += usize::from(c.skip);
            if c.magnitude != 0 {
                let v = 1i32 << (c.magnitude - 1);
                back[cursor] = if c.negative { -v } else { v };
            }
            cursor += 1;
        }
        prop_assert!(cursor <= n_in);
        prop_assert_eq!(back, row);
    }

    #[test]
    fn requantize_is_exact_and_monotonic(acc in any::<i32>(), m in 0u16..=MULT_MAX, shift in SHIFT_MIN..=SHIFT_MAX) {
        let rq = Requant { m, shift };
        // exact rational reference: floor((acc*m)/2^shift + 1/2) in i128
        let p = i128::from(acc) * i128::from(m);
        let want = (2 * p + (1i128 << shift)).div_euclid(1i128 << (shift + 1));
        prop_assert_eq!(i128::from(scale(acc, rq)), want);
        prop_assert_eq!(requantize(acc, rq), want.clamp(0, 255) as u8);
        if acc < i32::MAX {
            prop_assert!(requantize(acc + 1, rq) >= requantize(acc, rq));
        }
    }
}

#[test]
fn requant_edge_cases() {
    let rq = |m, shift| Requant { m, shift };
    // ties round up (towards +inf), also for negatives: 1.5 -> 2, -1.5 -> -1, -0.5 -> 0
    assert_eq!(scale(3, rq(1, 1)), 2);
    assert_eq!(scale(-3, rq(1, 1)), -1);
    assert_eq!(scale(-1, rq(1, 1)), 0);
    assert_eq!(scale(1, rq(1, 1)), 1); // 0.5 -> 1
                                       // just below / above a tie
    assert_eq!(scale(5, rq(3, 4)), 1); // 15/16 = 0.9375 -> 1
    assert_eq!(scale(2, rq(3, 3)), 1); // 6/8 = 0.75 -> 1
    assert_eq!(scale(1, rq(3, 3)), 0); // 3/8 -> 0
                                       // saturation to [0, 255], the ReLU
    assert_eq!(requantize(-1_000_000, rq(MULT_MAX, 1)), 0);
    assert_eq!(requantize(1_000_000, rq(1, 1)), 255);
    assert_eq!(requantize(511, rq(1, 1)), 255); // 255.5 -> 256 -> 255
    assert_eq!(requantize(509, rq(1, 1)), 255); // 254.5 -> 255
    assert_eq!(requantize(508, rq(1, 1)), 254);
    // m = 0 maps everything to 0 (rounding term only)
    assert_eq!(scale(i32::MAX, rq(0, 1)), 0);
    // extreme multiplier and shift: exact in 64 bits
    assert_eq!(scale(i32::MIN, rq(MULT_MAX, 1)), -35_183_298_347_008); // (-2^31*32767 + 1) >> 1
    assert_eq!(scale(i32::MAX, rq(MULT_MAX, SHIFT_MAX)), 0); // 7.0e13 / 1.4e14 = 0.4999 -> 0
    assert_eq!(scale(i32::MAX, rq(MULT_MAX, 46)), 1); // 0.9999 -> 1
}

#[test]
fn named_regressions() {
    // 1x1 conv is a per-pixel dense layer
    let input = [10u8, 20, 30, 40, 50, 60];
    let s = Shape { h: 1, w: 2, c: 3 };
    let out = check_conv(
        &input,
        s,
        1,
        2,
        false,
        &[1, 0, -1, 2, 2, 2],
        &[0, -100],
        &[Requant { m: 1, shift: 1 }; 2],
    );
    // pixel 0: 10-30 = -20 -> 0 ; 2*60-100 = 20 -> 10 ; pixel 1: 40-60 -> 0 ; 2*150-100 = 200 -> 100
    assert_eq!(out, [0, 10, 0, 100]);
    // kernel equal to the input: one output; pool on odd conv output floors (3x3 -> 1x1)
    check_conv(
        &[255; 9],
        Shape { h: 3, w: 3, c: 1 },
        3,
        1,
        false,
        &[127; 9],
        &[0],
        &[Requant { m: 1, shift: 20 }],
    );
    check_conv(
        &(0..25).collect::<Vec<u8>>(),
        Shape { h: 5, w: 5, c: 1 },
        3,
        1,
        true,
        &[1; 9],
        &[0],
        &[Requant { m: 1, shift: 3 }],
    );
    // dot remainder lengths 1..=3 past the unrolled part
    for n in 1..8 {
        check_dense(&vec![255; n], &vec![-127; 2 * n], &[0, 7], None);
    }
    // P layer: empty rows, a row of only fillers, max skip runs
    check_dense_p(&[1, 2, 3], &[], &[0, 0], 4, &[5, -5], None);
    let bits = 2; // skip field 6 bits: max skip 63
    let mut entries = Vec::new();
    let mut row = vec![0i32; 200];
    row[199] = -1;
    row[64] = 1;
    let n0 = encode_p_row(0, &row, bits, &mut entries).unwrap();
    let input: Vec<u8> = (0..200).map(|i| i as u8).collect();
    check_dense_p(&input, &entries, &[n0], bits, &[0], None);
    let mut acc = [0];
    numerics::dense_p_acc(&input, &entries, &[n0], bits, &[0], &mut acc);
    assert_eq!(acc[0], 64 - 199);
}

#[test]
fn dense_as_p_named_cases() {
    let input: Vec<u8> = (0..64).map(|i| (i * 37 % 256) as u8).collect();
    // all-zero weights: one copy, no entries, the outputs are the biases
    let n = check_dense_as_p(&input, &[0; 128], &[7, -7], None);
    assert_eq!(n, 2 * 2 + 64, "row lengths and one input copy");
    // one weight per extreme: -128 = -2^7 (one digit), 127 = 2^7 - 2^0 (two): 5-bit codes
    let mut w = vec![0i8; 64];
    (w[0], w[63]) = (-128, 127);
    assert_eq!(naf_digits_and_bits(&w), (2, 5));
    check_dense_as_p(&input, &w, &[0], None);
    // 85 = 2^6 + 2^4 + 2^2 + 2^0: four digits, shifts up to 6 fit 4-bit codes
    assert_eq!(naf_digits_and_bits(&[85, -85, 3]), (4, 4));
    check_dense_as_p(&input[..3], &[85, -85, 3], &[1], None);
    // accumulators that wrap: the NP kernel wraps, and so does the P layer
    check_dense_as_p(&[255; 64], &[127; 64], &[i32::MAX], None);
    check_dense_as_p(&[255; 64], &[-128; 64], &[i32::MIN + 5], None);
    // long zero runs between the digits: filler entries (5-bit codes skip at most 7)
    let mut w = vec![0i8; 300];
    (w[0], w[150], w[299]) = (127, -86, 85);
    check_dense_as_p(
        &vec![200; 300],
        &w,
        &[0],
        Some(&[Requant { m: 1, shift: 9 }]),
    );
}

#[test]
fn dense_as_p_capacity_limits_and_identity() {
    let mut r = Rng::new(11);
    let (n_in, n_out) = (50, 3);
    let w = dense_as_p_weights(&mut r, n_in, n_out);
    let mut big = vec![0u8; kernels::dense_as_p_bound(n_in, n_out) + 3];
    let need = {
        let (t, _) = DenseAsP::build(&w, n_in, n_out, &mut big[..]).unwrap();
        t.bytes()
    };
    // from a 4-aligned start the table takes exactly `bytes()` (its copies, 4 x 50 bytes, end
    // 2-aligned), from another one the bytes up to the next 4-aligned address more
    let base = big.as_ptr() as usize;
    for off in 0..4 {
        let pad = (4 - (base + off) % 4) % 4;
        let exact = &mut big[off..off + pad + need];
        let (t, rest) = DenseAsP::build(&w, n_in, n_out, exact).unwrap();
        assert_eq!((t.bytes(), rest.len()), (need, 0));
        let short = &mut big[off..off + pad + need - 1];
        let back = DenseAsP::build(&w, n_in, n_out, short).unwrap_err();
        assert_eq!(back.len(), pad + need - 1, "the storage comes back whole");
    }
    // shapes the P layer cannot express: no table
    let mut store = vec![0u8; 1 << 20];
    assert!(DenseAsP::build(&w, 0, n_out, &mut store).is_err());
    assert!(DenseAsP::build(&w, n_in, 0, &mut store).is_err());
    assert!(DenseAsP::build(&w, n_in, n_out + 1, &mut store).is_err());
    assert!(DenseAsP::build(&w, n_in, n_out - 1, &mut store).is_err());
    assert!(DenseAsP::build(&w[1..], n_in, n_out, &mut store).is_err());
    // the copies must fit the engine's 16-bit input length: 4 x 20,000 inputs do not,
    // 1 x 60,000 do
    let wide = vec![85i8; 20_000];
    assert!(DenseAsP::build(&wide, 20_000, 1, &mut store).is_err());
    let wide = vec![64i8; 60_000];
    assert!(DenseAsP::build(&wide, 60_000, 1, &mut store).is_ok());
    // a table serves only the weights it was built from, at their address, and its input length
    let copy = w.clone();
    let (b, input) = (le_i32(&[0; 3]), r.bytes(n_in));
    let (mut t, _) = DenseAsP::build(&w, n_in, n_out, &mut store).unwrap();
    let mine = DenseArgs {
        input: &input,
        weights: &w,
        bias: I32s::new(&b),
    };
    assert!(t.built_for(&mine));
    let other = DenseArgs {
        weights: &copy,
        ..mine
    };
    let short = DenseArgs {
        input: &input[1..],
        ..mine
    };
    for a in [&other, &short] {
        assert!(!t.built_for(a) && t.p_layer(a).is_none());
        let mut out = [0i32; 3];
        let r = kernels::dense_via_p(a, &mut t, DenseOut::Logits(&mut out));
        assert_eq!(r, Err(ArgsError::Shape));
    }
    // inconsistent output arguments fail as in the P kernel
    let mut out = [0i32; 2];
    let r = kernels::dense_via_p(&mine, &mut t, DenseOut::Logits(&mut out));
    assert!(matches!(r, Err(ArgsError::Len { .. })), "{r:?}");
}

#[test]
fn kernels_reject_inconsistent_arguments() {
    let b = le_i32(&[0]);
    let q = RqBytes::new(&[Requant { m: 1, shift: 1 }]);
    let args = ConvArgs {
        input: &[0; 8],
        in_shape: Shape { h: 3, w: 3, c: 1 },
        k: 2,
        cout: 1,
        pool: false,
        weights: &[0; 4],
        bias: I32s::new(&b),
        rq: q.view(),
    };
    let mut out = [0u8; 4];
    assert!(matches!(
        kernels::conv2d(&args, &mut out),
        Err(ArgsError::Len { what: "input", .. })
    ));
    let args = ConvArgs {
        input: &[0; 9],
        k: 4,
        ..args
    };
    assert_eq!(kernels::conv2d(&args, &mut out), Err(ArgsError::Shape));
    let d = DenseArgs {
        input: &[1, 2],
        weights: &[1, 2, 3],
        bias: I32s::new(&b),
    };
    let mut l = [0i32; 1];
    assert!(matches!(
        kernels::dense(&d, DenseOut::Logits(&mut l)),
        Err(ArgsError::Len {
            what: "weights",
            ..
        })
    ));
    // a P row whose cursor leaves the input is an error, not a panic
    let r = le_u16(&[1]);
    let p = DensePArgs {
        input: &[1],
        entries: &[PCode {
            skip: 3,
            negative: false,
            magnitude: 1,
        }
        .encode(4)],
        row_len: U16s::new(&r),
        bits: 4,
        bias: I32s::new(&b),
    };
    assert_eq!(
        kernels::dense_p(&p, DenseOut::Logits(&mut l)),
        Err(ArgsError::PRow { row: 0 })
    );
}

#[test]
fn p_index_size_capacity_and_identity() {
    // two rows of 3-bit codes (weights ±1, ±2, ±4): row 0 = [1, 0, -2, 0] has the groups
    // (+, shift 0) and (-, shift 1), row 1 = [0, 4, 0, 1] (+, shift 0) and (+, shift 2): each
    // row is 2 x [n, code, index] + an end mark = 7 words
    let bits = 3;
    let mut entries = Vec::new();
    let r0 = encode_p_row(0, &[1, 0, -2, 0], bits, &mut entries).unwrap();
    let r1 = encode_p_row(0, &[0, 4, 0, 1], bits, &mut entries).unwrap();
    let (rl, b) = (le_u16(&[r0, r1]), le_i32(&[100, -100]));
    let input = [10u8, 20, 30, 40];
    let args = DensePArgs {
        input: &input,
        entries: &entries,
        row_len: U16s::new(&rl),
        bits,
        bias: I32s::new(&b),
    };
    let want = vec![100 + 10 - 2 * 30, -100 + 4 * 20 + 40];
    for (words, rows, used) in [(14, 2, 14), (100, 2, 14), (13, 1, 7), (7, 1, 7), (6, 0, 0)] {
        let mut store = vec![0u16; words];
        let index = PIndex::build(&entries, args.row_len, bits, input.len(), &mut store);
        assert_eq!((index.rows(), index.words()), (rows, used), "{words} words");
        let mut got = vec![0i32; 2];
        kernels::dense_p_indexed(&args, Some(&index), DenseOut::Logits(&mut got)).unwrap();
        assert_eq!(got, want, "{words} words");
    }
    let mut store = vec![0u16; 14];
    PIndex::build(&entries, args.row_len, bits, input.len(), &mut store);
    // row 0: (+, shift 0) input 0; (-, shift 1) input 2. Codes: 0x20 | shift, 0x40 | shift
    assert_eq!(&store[..7], &[1, 0x20, 0, 1, 0x41, 2, 0]);
    assert_eq!(&store[7..], &[1, 0x20, 3, 1, 0x22, 1, 0]);

    // an index is used only for the arguments it was built from: other entry bytes (same
    // length, other weights) at another address, another input length or code width
    let other = [entries[1], entries[0], entries[3], entries[2]];
    let mut store = vec![0u16; 14];
    let index = PIndex::build(&other, args.row_len, bits, input.len(), &mut store);
    assert_eq!(index.rows(), 2);
    let mut got = vec![0i32; 2];
    kernels::dense_p_indexed(&args, Some(&index), DenseOut::Logits(&mut got)).unwrap();
    assert_eq!(got, want);
    let mut store = vec![0u16; 14];
    let index = PIndex::build(&entries, args.row_len, bits, 5, &mut store);
    kernels::dense_p_indexed(&args, Some(&index), DenseOut::Logits(&mut got)).unwrap();
    assert_eq!(got, want);
    let mut store = vec![0u16; 14];
    let index = PIndex::build(&entries, args.row_len, 4, input.len(), &mut store);
    kernels::dense_p_indexed(&args, Some(&index), DenseOut::Logits(&mut got)).unwrap();
    assert_eq!(got, want);

    // layers an index does not cover at all: invalid code width (the kernel says Shape, with
    // or without), inputs past u16 indices (walked)
    let mut store = vec![0u16; 14];
    let index = PIndex::build(&entries, args.row_len, 8, input.len(), &mut store);
    assert_eq!(index.rows(), 0);
    let bad = DensePArgs { bits: 8, ..args };
    assert_eq!(
        kernels::dense_p_indexed(&bad, Some(&index), DenseOut::Logits(&mut got)),
        Err(ArgsError::Shape)
    );
    let big = vec![3u8; PINDEX_MAX_N_IN + 1];
    let mut store = vec![0u16; 14];
    let index = PIndex::build(&entries, args.row_len, bits, big.len(), &mut store);
    assert_eq!(index.rows(), 0);
    let wide = DensePArgs {
        input: &big,
        ..args
    };
    kernels::dense_p_indexed(&wide, Some(&index), DenseOut::Logits(&mut got)).unwrap();
    assert_eq!(got, vec![100 + 3 - 6, -100 + 12 + 3]);
    let edge = &big[..PINDEX_MAX_N_IN];
    let mut store = vec![0u16; 14];
    let index = PIndex::build(&entries, args.row_len, bits, edge.len(), &mut store);
    assert_eq!(index.rows(), 2);

    // a row whose weight points past the input: the build stops there and the kernel reports
    // it as the walk does; the rows before it come from the index
    let mut bad_entries = entries.clone();
    bad_entries.push(
        PCode {
            skip: 9,
            negative: false,
            magnitude: 1,
        }
        .encode(bits),
    );
    let rl3 = le_u16(&[r0, r1, 1]);
    let b3 = le_i32(&[100, -100, 0]);
    let args3 = DensePArgs {
        entries: &bad_entries,
        row_len: U16s::new(&rl3),
        bias: I32s::new(&b3),
        ..args
    };
    let mut store = vec![0u16; 64];
    let index = PIndex::build(&bad_entries, args3.row_len, bits, input.len(), &mut store);
    assert_eq!(index.rows(), 2);
    let mut got = vec![7i32; 3];
    assert_eq!(
        kernels::dense_p_indexed(&args3, Some(&index), DenseOut::Logits(&mut got)),
        Err(ArgsError::PRow { row: 2 })
    );
    assert_eq!(got, vec![want[0], want[1], 7]);
}

#[test]
fn conv_blocks_cover_the_paper_shapes_and_odd_edges() {
    // the register-blocked kernel: 2x2 windows x 2 channels, a 9-byte row (k 3 over RGB) fully
    // unrolled, other rows 4 bytes per step plus a 1..3-byte tail; odd output sizes and an odd
    // channel count repeat the last window/channel (no pool) or drop it (pool)
    let mut r = Rng::new(0x5eed);
    for (h, w, c, k, cout) in [
        (12, 13, 3, 3, 10),  // conv1-like: row 9
        (11, 11, 10, 5, 20), // conv2-like: row 50 (12 steps of 4 + tail 2)
        (9, 8, 3, 3, 7),     // odd cout, odd conv width
        (7, 7, 1, 3, 1),     // row 3 (tail only), one channel
        (8, 9, 5, 1, 3),     // 1x1 kernel: row 5
        (6, 6, 4, 4, 2),     // row 16: no tail
        (5, 5, 7, 5, 1),     // one window per output when pooling is off
    ] {
        let s = Shape { h, w, c };
        let input = r.bytes(s.len());
        let (wts, bias, rq) = (r.weights(cout * k * k * c), r.bias(cout), r.rq(cout));
        for pool in [false, true] {
            if pool && (h + 1 - k < 2 || w + 1 - k < 2) {
                continue;
            }
            check_conv(&input, s, k, cout, pool, &wts, &bias, &rq);
        }
        // saturating inputs and weights: the accumulators at their extremes
        let sat = vec![255u8; s.len()];
        let neg = vec![-127i8; cout * k * k * c];
        check_conv(&sat, s, k, cout, false, &neg, &bias, &rq);
    }
}

#[test]
fn dense_blocks_of_five_rows() {
    // rows are computed five at a time; a last block of 1..4 repeats its last row; inputs eight
    // per step plus a tail
    let mut r = Rng::new(0xd15e);
    for (n_in, n_out) in [(64, 5), (432, 64), (7, 1), (8, 6), (17, 11), (1, 4)] {
        let rq = r.rq(n_out);
        check_dense(
            &r.bytes(n_in),
            &r.weights(n_in * n_out),
            &r.bias(n_out),
            Some(&rq),
        );
        check_dense(
            &r.bytes(n_in),
            &r.weights(n_in * n_out),
            &r.bias(n_out),
            None,
        );
    }
}
