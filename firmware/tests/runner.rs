//! The inference runner end to end: a hand-computed model, random models against the
//! reference loops, arena and argument errors, observer and cycle hooks.

mod common;

use common::{blob, random_model, reference_run, Out};
use firmware::accel::{AccelBackend, Bus};
use firmware::backend::SoftwareBackend;
use firmware::kernels::{DenseAsP, PIndex};
use firmware::model::*;
use firmware::numerics::Requant;
use firmware::runner::*;
use proptest::prelude::*;

/// Records every layer's output.
#[derive(Default)]
struct Record {
    outs: Vec<Out>,
    clock: u64,
    starts: Vec<usize>,
}

impl Observer for Record {
    fn cycles(&mut self) -> Option<u64> {
        self.clock += 100; // a fake counter: every read advances by 100
        Some(self.clock)
    }
    fn layer_start(&mut self, index: usize) {
        self.starts.push(index);
    }
    fn layer_done(&mut self, _info: &LayerInfo, output: LayerOutput<'_>) {
        self.outs.push(match output {
            LayerOutput::Activations(a) => Out::Act(a.to_vec()),
            LayerOutput::Logits(l) => Out::Logits(l.to_vec()),
        });
    }
}

/// Conv 2x2 (no pool) on a 3x3 image, a P layer 4 -> 2, a final dense 2 -> 3.
fn hand_model() -> ModelDesc {
    let half = Requant {
        m: 1 << 14,
        shift: 15,
    }; // x 0.5, round half up
    let x1_5 = Requant { m: 3, shift: 1 }; // x 1.5
    let mut entries = Vec::new();
    let bits = 3; // [skip:5 | sign | magnitude:2], weights ±1, ±2, ±4
    let r0 = encode_p_row(1, &[1, 0, -2, 0], bits, &mut entries).unwrap();
    let r1 = encode_p_row(1, &[0, 4, 0, 1], bits, &mut entries).unwrap();
    // (skip 0, +, mag 1) = 0b00000_0_01; (skip 1, -, mag 2) = 0b00001_1_10;
    // (skip 1, +, mag 3) = 0b00001_0_11; (skip 1, +, mag 1) = 0b00001_0_01
    assert_eq!(entries, [1, 14, 11, 9]);
    ModelDesc {
        input: Shape { h: 3, w: 3, c: 1 },
        class_names: vec!["a".into(), "b".into(), "c".into()],
        logit_scale: 1.0,
        layers: vec![
            LayerDesc::Conv {
                k: 2,
                cin: 1,
                cout: 1,
                pool: false,
                weights: vec![1, 2, 3, 4],
                bias: vec![-20],
                rq: vec![half],
            },
            LayerDesc::DenseP {
                n_in: 4,
                n_out: 2,
                bits,
                n2: 0,
                row_len: vec![r0, r1],
                entries,
                bias: vec![50, -100],
                rq: Some(vec![x1_5; 2]),
            },
            LayerDesc::Dense {
                n_in: 2,
                n_out: 3,
                weights: vec![1, 0, 0, 1, -1, 2],
                bias: vec![0, 5, 40],
                rq: None,
            },
        ],
    }
}

#[test]
fn hand_computed_model() {
    let b = blob(&hand_model());
    let m = Model::parse(&b).unwrap();
    let input = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
    // conv, w = [[1,2],[3,4]], bias -20, then x0.5 rounded half up:
    //   (0,0): 1+4+12+20-20 = 17 -> 8.5 -> 9    (0,1): 2+6+15+24-20 = 27 -> 13.5 -> 14
    //   (1,0): 4+10+21+32-20 = 47 -> 23.5 -> 24 (1,1): 5+12+24+36-20 = 57 -> 28.5 -> 29
    // P layer, x1.5 = (acc*3 + 1) >> 1:
    //   row 0: 50 + 9 - 2*24 = 11 -> (33+1)>>1 = 17
    //   row 1: -100 + 4*14 + 29 = -15 -> (-45+1)>>1 = -22 -> ReLU 0
    // dense: [17*1 + 0*0 + 0, 17*0 + 0*1 + 5, -17 + 0*2 + 40] = [17, 5, 23] -> class 2
    let mut arena = vec![0u8; arena_bytes(&m)];
    assert_eq!(arena.len(), 2 * 4 + 3);
    let mut logits = [0i32; 3];
    let mut rec = Record::default();
    let info = run(
        &m,
        &input,
        &mut arena,
        &mut SoftwareBackend,
        &mut logits,
        &mut rec,
    )
    .unwrap();
    assert_eq!(
        rec.outs,
        [
            Out::Act(vec![9, 14, 24, 29]),
            Out::Act(vec![17, 0]),
            Out::Logits(vec![17, 5, 23])
        ]
    );
    assert_eq!(logits, [17, 5, 23]);
    assert_eq!(info.class, 2);
    assert_eq!(m.class_name(info.class), Some("c"));
    assert_eq!(rec.starts, [0, 1, 2]);
    let layers = info.layers();
    assert_eq!(layers.len(), 3);
    assert_eq!(
        layers.iter().map(|l| l.macs).collect::<Vec<_>>(),
        [4 * 4, 4, 6]
    );
    // each layer: one read before, one after -> 100 cycles with the fake counter
    assert_eq!(
        layers.iter().map(|l| l.cycles).collect::<Vec<_>>(),
        [Some(100); 3]
    );
    assert_eq!(info.total_cycles(), Some(300));
    assert_eq!(layers[1].output, Shape { h: 1, w: 1, c: 2 });
    // without an observer: same answer, no cycles
    let info2 = run(
        &m,
        &input,
        &mut arena,
        &mut SoftwareBackend,
        &mut logits,
        &mut (),
    )
    .unwrap();
    assert_eq!(info2.class, 2);
    assert_eq!(info2.total_cycles(), None);
}

#[test]
fn argument_errors() {
    let b = blob(&hand_model());
    let m = Model::parse(&b).unwrap();
    let need = arena_bytes(&m);
    let mut arena = vec![0u8; need];
    let mut logits = [0i32; 3];
    let input = [0u8; 9];
    assert_eq!(
        run(
            &m,
            &input[..8],
            &mut arena,
            &mut SoftwareBackend,
            &mut logits,
            &mut ()
        ),
        Err(RunError::InputLen {
            expected: 9,
            got: 8
        })
    );
    assert_eq!(
        run(
            &m,
            &input,
            &mut arena[..need - 1],
            &mut SoftwareBackend,
            &mut logits,
            &mut ()
        ),
        Err(RunError::ArenaTooSmall {
            need,
            have: need - 1
        })
    );
    assert_eq!(
        run(
            &m,
            &input,
            &mut arena,
            &mut SoftwareBackend,
            &mut logits[..2],
            &mut ()
        ),
        Err(RunError::LogitsLen {
            expected: 3,
            got: 2
        })
    );
}

#[test]
fn arena_alignment_does_not_matter() {
    let b = blob(&hand_model());
    let m = Model::parse(&b).unwrap();
    let input = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
    let mut big = vec![0u8; arena_bytes(&m) + 4];
    for off in 0..4 {
        let arena = &mut big[off..off + arena_bytes(&m)];
        let mut logits = [0i32; 3];
        run(
            &m,
            &input,
            arena,
            &mut SoftwareBackend,
            &mut logits,
            &mut (),
        )
        .unwrap();
        assert_eq!(logits, [17, 5, 23]);
    }
}

/// A SoC without engines: every register reads 0 (`SYS.ENGINE_WAIT` says none exists).
struct NoEngines;

impl Bus for NoEngines {
    fn read(&mut self, _addr: u32) -> u32 {
        0
    }
    fn write(&mut self, _addr: u32, _value: u32) {}
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// What the soft-core does without a P engine: the first P layer's input index built once
    /// into storage of any size (whole, partial, none), handed to `AccelBackend`, then several
    /// images: every layer's output is the reference's.
    #[test]
    fn accel_backend_with_a_p_index_matches_reference(
        seed in any::<u64>(), img_seed in any::<u64>(), words in 0usize..400,
    ) {
        let d = random_model(seed);
        let b = blob(&d);
        let m = Model::parse(&b).unwrap();
        let mut store = vec![0u16; words];
        let mut backend = AccelBackend::new(NoEngines, false);
        prop_assert_eq!(backend.engines(), (false, false));
        if let Some(layer) = m.layers().find(|l| matches!(l.kind, LayerKind::DenseP { .. })) {
            let index = PIndex::for_layer(&layer, &mut store).unwrap();
            prop_assert!(index.words() <= words);
            backend.set_p_index(index);
        }
        let mut arena = vec![0u8; arena_bytes(&m)];
        let mut logits = vec![0i32; m.n_classes()];
        for k in 0..3 {
            let input = common::Rng::new(img_seed ^ k).bytes(m.input_shape().len());
            let mut rec = Record::default();
            run(&m, &input, &mut arena, &mut backend, &mut logits, &mut rec).unwrap();
            prop_assert_eq!(&rec.outs, &reference_run(&m, &input));
        }
    }

    /// What the soft-core does with a P engine: the first NP dense layer's P layer
    /// (`DenseAsP`) built once into storage of any size, handed to `AccelBackend`, then several
    /// images. Without an engine on this bus the backend runs that P layer with the software P
    /// kernel: every layer's output is still the reference's (a table that does not fit leaves
    /// the layer to the NP kernel).
    #[test]
    fn accel_backend_with_a_dense_as_p_table_matches_reference(
        seed in any::<u64>(), img_seed in any::<u64>(), bytes in 0usize..3000,
    ) {
        let d = random_model(seed);
        let b = blob(&d);
        let m = Model::parse(&b).unwrap();
        let mut store = vec![0u8; bytes];
        let mut slot = None;
        let mut backend = AccelBackend::new(NoEngines, false);
        let mut rest = &mut store[..];
        for layer in m.layers() {
            match DenseAsP::for_layer(&layer, rest) {
                Ok((t, _)) => {
                    prop_assert!(t.bytes() <= bytes);
                    backend.set_dense_as_p(slot.insert(t));
                    break;
                }
                Err(back) => rest = back,
            }
        }
        let mut arena = vec![0u8; arena_bytes(&m)];
        let mut logits = vec![0i32; m.n_classes()];
        for k in 0..3 {
            let input = common::Rng::new(img_seed ^ k).bytes(m.input_shape().len());
            let mut rec = Record::default();
            run(&m, &input, &mut arena, &mut backend, &mut logits, &mut rec).unwrap();
            prop_assert_eq!(&rec.outs, &reference_run(&m, &input));
        }
    }

    /// The runner with the optimised kernels produces, layer by layer, exactly the bits of
    /// the reference loops.
    #[test]
    fn software_backend_matches_reference(seed in any::<u64>(), img_seed in any::<u64>()) {
        let d = random_model(seed);
        let b = blob(&d);
        let m = Model::parse(&b).unwrap();
        let input = common::Rng::new(img_seed).bytes(m.input_shape().len());
        let want = reference_run(&m, &input);
        let mut arena = vec![0u8; arena_bytes(&m)];
        let mut logits = vec![0i32; m.n_classes()];
        let mut rec = Record::default();
        let info = run(&m, &input, &mut arena, &mut SoftwareBackend, &mut logits, &mut rec).unwrap();
        prop_assert_eq!(&rec.outs, &want);
        let Some(Out::Logits(l)) = want.last() else { panic!("last output is logits") };
        prop_assert_eq!(&logits, l);
        prop_assert_eq!(Some(info.class), firmware::numerics::argmax(l));
    }
}
