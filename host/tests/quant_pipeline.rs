//! The quantisation pipeline on a tiny CNN trained on `data/sample`: layer plan, pruning
//! masks through fine-tuning, INQ grids, calibration, the blob through the firmware reader,
//! integer evaluation equal to the firmware runner, compression accounting, self-distillation
//! and option errors.

mod quant_common;

use std::sync::OnceLock;

use firmware::backend::SoftwareBackend;
use firmware::model::{encode_p_row, LayerKind, Model};
use firmware::runner;
use host::model::Arch;
use host::qmodel::pipeline::{
    auto_levels, calibrate, finish, inq, layer_inputs, plan_layers, prune, quantize, FineTuneData,
    Quantized, Scheme,
};
use host::qmodel::{evaluate_int, IntModel, QModelError};
use host::quant::{encode_p_matrix, max_levels, pruned_count, Calibration, InqParams};
use host::train::NoProgress;
use quant_common::{fixture, quick_config, tiny_arch};

fn quantized() -> &'static Quantized {
    static Q: OnceLock<Quantized> = OnceLock::new();
    Q.get_or_init(|| {
        let f = fixture();
        quantize(
            &f.net,
            &f.data.classes,
            &f.train,
            &f.val,
            &quick_config(),
            &mut NoProgress,
        )
        .unwrap()
    })
}

#[test]
fn plan_defaults_and_overrides() {
    let arch = Arch::paper_cnn(5, 64, 0.5);
    let plan = plan_layers(&arch, &[], &[]).unwrap();
    let schemes: Vec<Scheme> = plan.iter().map(|l| l.scheme).collect();
    assert_eq!(schemes, [Scheme::Np, Scheme::Np, Scheme::P, Scheme::Np]);
    assert_eq!(
        plan.iter().map(|l| l.pool).collect::<Vec<_>>(),
        [true, true, false, false]
    );
    assert_eq!(plan[2].io, (3380, 64));
    assert_eq!(plan[2].name, "layers.7");
    assert!(plan[3].is_final);
    // head as P too; dense 2 back to NP
    let p = plan_layers(&arch, &[3], &[2]).unwrap();
    assert_eq!(p[3].scheme, Scheme::P);
    assert_eq!(p[2].scheme, Scheme::Np);
    for (pl, np, want) in [
        (vec![0], vec![], "convolution"),
        (vec![4], vec![], "out of range"),
        (vec![2], vec![2], "both"),
    ] {
        let e = plan_layers(&arch, &pl, &np).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
    // MLP: the big dense is P, the head NP
    let mlp = plan_layers(&Arch::mlp(5, 16), &[], &[]).unwrap();
    assert_eq!(
        mlp.iter().map(|l| l.scheme).collect::<Vec<_>>(),
        [Scheme::P, Scheme::Np]
    );
}

#[test]
fn bad_options_are_clear_errors() {
    let f = fixture();
    let run = |cfg: host::qmodel::pipeline::QuantizeConfig| {
        quantize(
            &f.net,
            &f.data.classes,
            &f.train,
            &f.val,
            &cfg,
            &mut NoProgress,
        )
        .unwrap_err()
        .to_string()
    };
    for (cfg, want) in [
        (
            host::qmodel::pipeline::QuantizeConfig {
                sparsity: 1.0,
                ..quick_config()
            },
            "--sparsity 1 outside [0, 1)",
        ),
        (
            host::qmodel::pipeline::QuantizeConfig {
                sparsity: -0.1,
                ..quick_config()
            },
            "--sparsity -0.1 outside [0, 1)",
        ),
        (
            host::qmodel::pipeline::QuantizeConfig {
                bits: 8,
                ..quick_config()
            },
            "--pow2-bits 8 outside 2..=7",
        ),
        (
            host::qmodel::pipeline::QuantizeConfig {
                bits: 1,
                ..quick_config()
            },
            "--pow2-bits 1 outside 2..=7",
        ),
        (
            host::qmodel::pipeline::QuantizeConfig {
                bits: 3,
                levels: Some(4),
                ..quick_config()
            },
            "--levels 4 outside 1..=3",
        ),
        (
            host::qmodel::pipeline::QuantizeConfig {
                calibration: Calibration::Percentile(0.0),
                ..quick_config()
            },
            "--percentile 0 outside (0, 100]",
        ),
        (
            host::qmodel::pipeline::QuantizeConfig {
                augment_final: true,
                ..quick_config()
            },
            "--augment-final needs --augment",
        ),
        (
            host::qmodel::pipeline::QuantizeConfig {
                keep_last: true,
                patience: 2,
                ..quick_config()
            },
            "--patience must be 0, not 2",
        ),
        (
            host::qmodel::pipeline::QuantizeConfig {
                distill_weight: 1.5,
                ..quick_config()
            },
            "--distill-weight 1.5 outside [0, 1]",
        ),
        (
            host::qmodel::pipeline::QuantizeConfig {
                distill_temperature: 0.0,
                ..quick_config()
            },
            "--distill-temperature 0 must be > 0",
        ),
    ] {
        let e = run(cfg);
        assert!(e.contains(want), "{e} (want {want})");
    }
}

#[test]
fn pruning_masks_stay_pruned_through_finetuning_and_inq() {
    let f = fixture();
    let cfg = quick_config();
    let plan = plan_layers(&tiny_arch(), &[], &[]).unwrap();
    let mut net = f.net.clone();
    let data = FineTuneData {
        train: &f.train,
        val: &f.val,
        source: &f.net,
    };
    let (live, stages) = prune(&mut net, &plan, data, &cfg, &mut NoProgress).unwrap();
    assert_eq!(stages.len(), 2);
    // cubic schedule, 2 steps: 0.8 * (1 - 0.5^3) = 0.7, then 0.8
    assert!((stages[0].target - 0.7).abs() < 1e-12);
    assert_eq!(stages[1].target, 0.8);
    let name = "layers.7.weight";
    let keep = &live[name];
    let w = |n: &host::model::Net| -> Vec<f32> {
        n.params
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .value
            .iter()
            .copied()
            .collect()
    };
    let before = w(&net);
    assert_eq!(keep.len(), 676 * 16);
    assert_eq!(
        keep.iter().filter(|&&k| !k).count(),
        pruned_count(keep.len(), 0.8)
    );
    // every pruned weight is exactly 0 after fine-tuning; the live ones moved
    for (v, &k) in before.iter().zip(keep) {
        if !k {
            assert_eq!(*v, 0.0);
        }
    }
    let moved = before
        .iter()
        .zip(w(&f.net))
        .zip(keep)
        .filter(|((a, b), &k)| k && **a != *b)
        .count();
    assert!(
        moved > keep.len() / 10,
        "fine-tuning changed {moved} live weights"
    );
    // the head (NP) was not pruned
    let head = |n: &host::model::Net| {
        n.params
            .iter()
            .find(|p| p.name == "layers.9.weight")
            .unwrap()
            .value
            .clone()
    };
    assert!(head(&net).iter().all(|&v| v != 0.0));

    let (grids, stages) = inq(&mut net, &plan, &live, data, &cfg, &mut NoProgress).unwrap();
    // 3 INQ retraining stages (0.5, 0.75, 0.875) + the final fine-tuning
    assert_eq!(
        stages.iter().map(|s| s.stage.as_str()).collect::<Vec<_>>(),
        ["inq", "inq", "inq", "finetune"]
    );
    let g = grids[name];
    let after = w(&net);
    for (i, (v, &k)) in after.iter().zip(keep).enumerate() {
        if !k {
            assert_eq!(*v, 0.0, "pruned weight {i} revived");
        } else {
            assert_eq!(g.quantize(*v), *v, "weight {i} = {v} off the grid");
        }
    }
    // the grid follows the INQ rule from max|w| after pruning
    let s = before.iter().fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    assert_eq!(g, InqParams::from_max_levels(4, g.levels, s).unwrap());
    assert_eq!(g.levels, max_levels(4));
}

/// Self-distillation (`distill_weight` 1) fine-tunes towards the float source's decisions, not
/// the labels: on scrambled labels the half-pruned model keeps agreeing with the source (0.76
/// of the training images when written), while the same fine-tuning on the labels alone learns
/// the scrambled labels and moves away from it (0.26).
#[test]
fn self_distillation_keeps_the_sources_decisions() {
    let f = fixture();
    let plan = plan_layers(&tiny_arch(), &[], &[]).unwrap();
    let mut scrambled = f.train.clone();
    let n = scrambled.classes.len();
    for l in scrambled.labels.iter_mut() {
        *l = (*l + 1) % n;
    }
    let decisions = |net: &host::model::Net| -> Vec<usize> {
        host::eval::predict_dataset(net, &f.train, 64)
            .chunks(n)
            .map(host::eval::argmax)
            .collect()
    };
    let want = decisions(&f.net);
    let agreement = |distill_weight: f32| {
        let cfg = host::qmodel::pipeline::QuantizeConfig {
            sparsity: 0.5,
            prune_steps: 1,
            epochs_per_step: 12,
            lr: 3e-3,
            distill_weight,
            distill_temperature: 1.0,
            ..quick_config()
        };
        let mut net = f.net.clone();
        let data = FineTuneData {
            train: &scrambled,
            val: &f.val,
            source: &f.net,
        };
        prune(&mut net, &plan, data, &cfg, &mut NoProgress).unwrap();
        let got = decisions(&net);
        got.iter().zip(&want).filter(|(a, b)| a == b).count() as f64 / want.len() as f64
    };
    let (with, without) = (agreement(1.0), agreement(0.0));
    assert!(
        with > 0.6,
        "self-distilled: {with} agreement with the source"
    );
    assert!(
        with > without + 0.3,
        "self-distilled {with} vs labels only {without}"
    );
}

#[test]
fn auto_levels_by_hand() {
    // 255 * 100 * 2^(L-1) <= 2^30  <=>  2^(L-1) <= 42107.5 -> L - 1 <= 15 -> L = 16, capped by the code
    assert_eq!(auto_levels(5, 100), Some(15));
    assert_eq!(auto_levels(6, 100), Some(16));
    // 255 * 3380 = 861900: 2^(L-1) <= 1245.8 -> L = 11
    assert_eq!(auto_levels(7, 3380), Some(11));
    assert_eq!(auto_levels(3, 3380), Some(3));
    assert_eq!(auto_levels(2, usize::MAX / 1024), None);
}

#[test]
fn calibration_matches_the_float_activations() {
    let f = fixture();
    let imgs: Vec<&[u8]> = f
        .train
        .images
        .iter()
        .take(10)
        .map(|v| v.as_slice())
        .collect();
    let minmax = calibrate(&f.net, &imgs, Calibration::MinMax).unwrap();
    let pct = calibrate(&f.net, &imgs, Calibration::Percentile(99.0)).unwrap();
    assert_eq!(minmax.len(), 3); // conv, conv, dense hidden: every layer but the logits
    let x = host::data::pixels_to_batch(imgs.iter().copied());
    let ins = layer_inputs(&f.net, x);
    assert_eq!(ins.len(), 4);
    assert_eq!(ins[1].shape(), [10, 31, 31, 4]);
    assert_eq!(ins[2].shape(), [10, 1, 1, 676]);
    for j in 0..3 {
        let max = ins[j + 1].iter().fold(0f32, |m, &v| m.max(v));
        assert!(max > 0.0);
        assert_eq!(minmax[j], f64::from(max) / 255.0, "layer {j}");
        assert!(pct[j] <= minmax[j] && pct[j] > 0.0, "layer {j}");
        assert!(ins[j + 1].iter().all(|&v| v >= 0.0), "post-ReLU");
    }
}

#[test]
fn blob_round_trips_through_the_firmware_reader() {
    let q = quantized();
    let m = Model::parse(&q.deployed.blob).unwrap();
    let f = fixture();
    assert_eq!(m.class_names().collect::<Vec<_>>(), f.data.classes);
    let kinds: Vec<LayerKind> = m.layers().map(|l| l.kind).collect();
    assert!(matches!(
        kinds[0],
        LayerKind::Conv {
            k: 3,
            cin: 3,
            cout: 4,
            pool: true
        }
    ));
    assert!(matches!(
        kinds[1],
        LayerKind::Conv {
            k: 5,
            cin: 4,
            cout: 4,
            pool: true
        }
    ));
    assert!(matches!(
        kinds[2],
        LayerKind::DenseP {
            n_in: 676,
            n_out: 16,
            bits: 4,
            ..
        }
    ));
    assert!(matches!(kinds[3], LayerKind::Dense { n_in: 16, n_out: 5 }));
    // P layer entries decode to the fine-tuned float weights / 2^n2 (the finetuned net is
    // exactly on the grid), and the stats agree with the blob
    let st = &q.deployed.layers[2];
    assert_eq!(st.scheme, "P");
    assert!((st.sparsity - 0.8).abs() < 1e-3, "{}", st.sparsity);
    let l2 = m.layer(2).unwrap();
    assert_eq!(Some(l2.entries.len()), st.entries);
    let n2 = st.n2.unwrap();
    let w: Vec<f32> = q
        .finetuned
        .params
        .iter()
        .find(|p| p.name == "layers.7.weight")
        .unwrap()
        .value
        .iter()
        .copied()
        .collect();
    let units: Vec<i32> = w
        .iter()
        .map(|&v| (f64::from(v) / 2f64.powi(n2)) as i32)
        .collect();
    let mut row0 = Vec::new();
    let n = encode_p_row(2, &units[..676], 4, &mut row0).unwrap();
    assert_eq!(&l2.entries[..usize::from(n)], &row0[..]);
    // compression = float32 bytes of all parameters / blob length
    let c = &q.deployed.compression;
    assert_eq!(c.float_bytes, 4 * f.net.num_params());
    assert_eq!(c.blob_bytes, q.deployed.blob.len());
    assert_eq!(c.ratio, c.float_bytes as f64 / c.blob_bytes as f64);
    assert!(c.ratio > 4.0, "{}", c.ratio);
    // tampering: one flipped byte -> CRC error; truncation -> length error; both named
    let mut bad = q.deployed.blob.clone();
    bad[100] ^= 0x40;
    let e = IntModel::from_blob(bad, "x.blob").unwrap_err();
    assert!(matches!(e, QModelError::Blob { code: 5, .. }), "{e}");
    assert!(e.to_string().contains("crc mismatch"), "{e}");
    let cut = q.deployed.blob[..q.deployed.blob.len() - 8].to_vec();
    let e = IntModel::from_blob(cut, "x.blob").unwrap_err().to_string();
    assert!(
        e.contains("x.blob") && e.contains("firmware model reader"),
        "{e}"
    );
}

#[test]
fn integer_eval_equals_the_firmware_runner() {
    let q = quantized();
    let f = fixture();
    let im = IntModel::from_blob(q.deployed.blob.clone(), "test").unwrap();
    let (metrics, outs) = evaluate_int(&im, &f.data).unwrap();
    let model = Model::parse(&q.deployed.blob).unwrap();
    let mut arena = vec![0u8; runner::arena_bytes(&model)];
    let mut correct = 0;
    for (i, img) in f.data.images.iter().enumerate() {
        let mut logits = [0i32; 5];
        let info = runner::run(
            &model,
            img,
            &mut arena,
            &mut SoftwareBackend,
            &mut logits,
            &mut (),
        )
        .unwrap();
        assert_eq!(outs[i].logits, logits, "image {i}");
        assert_eq!(outs[i].class, info.class);
        correct += usize::from(info.class == f.data.labels[i]);
    }
    assert_eq!(metrics.accuracy, correct as f64 / f.data.len() as f64);
    assert_eq!(
        metrics.confusion.iter().flatten().sum::<usize>(),
        f.data.len()
    );
    assert!(metrics.loss.unwrap().is_finite());
    // the integer model tracks its float counterpart
    let probs = host::eval::predict_dataset(&q.finetuned, &f.data, 64);
    let fp: Vec<usize> = probs.chunks_exact(5).map(host::eval::argmax).collect();
    let ip: Vec<usize> = outs.iter().map(|o| o.class).collect();
    let agree = host::qmodel::agreement(&ip, &fp);
    assert!(
        agree >= 0.85,
        "integer vs fine-tuned float agreement {agree}"
    );
}

#[test]
fn class_mismatch_is_an_error() {
    let q = quantized();
    let f = fixture();
    let im = IntModel::from_blob(q.deployed.blob.clone(), "test").unwrap();
    let mut ds = f.val.subset(&[0, 1]);
    ds.classes.swap(0, 1);
    let e = evaluate_int(&im, &ds).unwrap_err().to_string();
    assert!(e.contains("class"), "{e}");
}

#[test]
fn finish_is_deterministic() {
    let q = quantized();
    let f = fixture();
    let plan = plan_layers(&tiny_arch(), &[], &[]).unwrap();
    let calib: Vec<&[u8]> = host::qmodel::pipeline::spread(f.train.len(), 40)
        .into_iter()
        .map(|i| f.train.images[i].as_slice())
        .collect();
    let d = finish(
        &q.finetuned,
        &plan,
        &q.grids,
        &calib,
        &f.data.classes,
        &quick_config(),
    )
    .unwrap();
    assert_eq!(d.blob, q.deployed.blob);
}

/// The quantiser's P-matrix encoder and the firmware's row encoder (the blob's one writer) give
/// the same bytes (encode_p_matrix delegates to encode_p_row; this pins it).
#[test]
fn p_matrix_encoder_equals_firmware_row_encoder() {
    let p = InqParams::new(3, 0).unwrap(); // levels 1/4, 1/2, 1; max skip 31
    let cols = 100;
    let mut w = vec![0f32; 2 * cols];
    for (i, v) in [(0usize, 1.0f32), (40, -0.25), (99, 0.5), (cols + 70, -1.0)] {
        w[i] = v;
    }
    let enc = encode_p_matrix(&w, 2, cols, &p).unwrap();
    let mut bytes = Vec::new();
    let mut lens = Vec::new();
    for r in 0..2 {
        let units: Vec<i32> = w[r * cols..(r + 1) * cols]
            .iter()
            .map(|&v| (v * 4.0) as i32)
            .collect();
        lens.push(encode_p_row(0, &units, 3, &mut bytes).unwrap());
    }
    assert_eq!(enc.entries, bytes);
    assert_eq!(enc.row_len, lens);
    // row 0: (skip 0, +4 units = mag 3), gap 39 > 31 -> filler(31) then skip 7 mag 1 negative,
    // then gap 58 -> filler(31), skip 26 mag 2
    assert_eq!(enc.row_len, vec![5, 3]);
}
