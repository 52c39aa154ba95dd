//! The Verilated engines against the models they implement (issue 14, items 4 and 5):
//!
//! - `golden_vectors_through_the_engines`: every shipped golden vector (`models/*/golden`,
//!   written by `cnnfpga export`) is driven layer by layer through the Verilated conv and P
//!   engines (`sim::engines::EngineBackend` under `firmware::runner::run`): every layer's output
//!   and the logits must equal the vector bit for bit;
//! - `engines_vs_float_model_within_the_derived_bound`: the shipped model's layers on the RTL
//!   for every `data/sample` image, dequantised, against the float model's layer outputs
//!   (`finetuned.safetensors`, the float weights the integer model approximates), within the
//!   per-element bound derived in docs/numerics.md ("RTL vs the float model"); asserted for every
//!   element of every layer of every image;
//! - `classes_vs_float_model`: the class from the RTL (engines layer by layer for all images,
//!   the full Verilated SoC through `host::simrun::run` for one image per class) against the
//!   float models' classes; the agreement must be at least the host integer path's.
//!
//! The full SoC runs only five images: it simulates the soft-core too, about 1 M cycles per
//! image at ~5 M cycles/s plus the firmware build; the engines alone give the same bits
//! (`sim_shipped.rs` and this file check both against the host) for all 200 in CI time.

use std::path::{Path, PathBuf};

use firmware::model::{LayerKind, Model};
use firmware::numerics::PCode;
use host::model::{Net, SavedModel};
use host::qmodel::{CaptureObserver, IntModel};
use ndarray::{Array4, ArrayD};
use sim::engines::{EngineBackend, Ran};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const QDIR: &str = "models/animals5-cnn-int";

fn engines() -> EngineBackend {
    EngineBackend::new(1).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `image` through the engines; returns every layer's output bytes and the class.
fn rtl_run(be: &mut EngineBackend, model: &Model<'_>, image: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut arena = vec![0u8; firmware::runner::arena_bytes(model)];
    let mut logits = vec![0i32; model.n_classes()];
    let mut obs = CaptureObserver::default();
    be.ran.clear();
    let info = firmware::runner::run(model, image, &mut arena, be, &mut logits, &mut obs)
        .unwrap_or_else(|e| panic!("engines: {e}"));
    (obs.layers.into_iter().map(|(_, b)| b).collect(), info.class)
}

#[test]
fn golden_vectors_through_the_engines() {
    let mut be = engines();
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("models")).unwrap() {
        let golden = entry.unwrap().path().join("golden");
        if !golden.join("vectors.json").exists() {
            continue;
        }
        let blob = std::fs::read(golden.join("model.blob")).unwrap();
        let model = Model::parse(&blob).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(golden.join("vectors.json")).unwrap()).unwrap();
        assert_eq!(
            json["blob_sha256"].as_str().unwrap(),
            host::model::sha256_hex(&blob),
            "{}: vectors of another blob",
            golden.display()
        );
        let bin = std::fs::read(golden.join("vectors.bin")).unwrap();
        let slice = |a: &serde_json::Value| {
            let (o, n) = (a["offset"].as_u64().unwrap(), a["len"].as_u64().unwrap());
            &bin[o as usize..(o + n) as usize]
        };
        for v in json["vectors"].as_array().unwrap() {
            let what = format!("{}: {}", golden.display(), v["source"]);
            let (layers, class) = rtl_run(&mut be, &model, slice(&v["input"]));
            let want = v["layers"].as_array().unwrap();
            assert_eq!(layers.len(), want.len(), "{what}: layer count");
            for (i, (got, w)) in layers.iter().zip(want).enumerate() {
                let w = slice(w);
                let first = got.iter().zip(w).position(|(a, b)| a != b);
                assert!(
                    got.as_slice() == w,
                    "{what}: layer {i} ({:?}) differs from the golden vector (len {} vs {}, \
                     first difference at byte {first:?})",
                    be.ran.get(i),
                    got.len(),
                    w.len()
                );
            }
            let logits: Vec<i64> = v["logits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
                .collect();
            let got: Vec<i64> = layers
                .last()
                .unwrap()
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes(c.try_into().unwrap())))
                .collect();
            assert_eq!(got, logits, "{what}: logits");
            assert_eq!(class as u64, v["class"].as_u64().unwrap(), "{what}: class");
            // every conv and P layer really ran on an engine
            for (i, l) in model.layers().enumerate() {
                let want = match l.kind {
                    LayerKind::Conv { .. } => Ran::ConvEngine,
                    LayerKind::DenseP { .. } => Ran::PEngine,
                    LayerKind::Dense { .. } => Ran::Software,
                };
                assert_eq!(be.ran[i], want, "{what}: layer {i}");
            }
            checked += 1;
        }
    }
    eprintln!("{checked} golden vectors bit-exact through the Verilated engines");
    assert!(checked >= 5, "only {checked} golden vectors found");
}

/// One layer of the float model on one image, as the bound needs it: pre-activation `z` (before
/// ReLU and pooling), `[h][w][c]` or `[n]`.
struct FloatLayer {
    z: Vec<f32>,
    zh: usize,
    zw: usize,
}

fn to_array4(x: &[f32], h: usize, w: usize, c: usize) -> Array4<f32> {
    Array4::from_shape_vec((1, h, w, c), x.to_vec()).unwrap()
}

/// ReLU then (optionally) 2x2/2 max-pool (floor), HWC.
fn relu_pool(z: &[f32], h: usize, w: usize, c: usize, pool: bool) -> Vec<f32> {
    let r: Vec<f32> = z.iter().map(|&v| v.max(0.0)).collect();
    if !pool {
        return r;
    }
    pool_max(&r, h, w, c)
}

fn pool_max<T: Copy + PartialOrd>(v: &[T], h: usize, w: usize, c: usize) -> Vec<T> {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = Vec::with_capacity(oh * ow * c);
    for y in 0..oh {
        for x in 0..ow {
            for ch in 0..c {
                let mut m = v[((2 * y) * w + 2 * x) * c + ch];
                for (dy, dx) in [(0, 1), (1, 0), (1, 1)] {
                    let e = v[((2 * y + dy) * w + 2 * x + dx) * c + ch];
                    if e > m {
                        m = e;
                    }
                }
                out.push(m);
            }
        }
    }
    out
}

/// Unit roundoff of f32 and the dot-product error factor `gamma_n = n u / (1 - n u)`
/// (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5: any summation
/// order, with or without FMA).
fn gamma(n: usize) -> f64 {
    let u = f64::from(f32::EPSILON) / 2.0;
    n as f64 * u / (1.0 - n as f64 * u)
}

/// Per-layer results of the comparison.
#[derive(Default, Clone, Copy)]
struct Worst {
    max_err: f64,
    max_bound: f64,
    max_ratio: f64,
    sum_bound: f64,
    n: usize,
}

/// The bound of docs/numerics.md for one layer with integer weights `qw[o][t]` (taps `t` of
/// output `o` at output position `p`, given by `taps(o, p) -> [(input index, tap index)]`).
#[allow(clippy::too_many_arguments)]
fn layer_bound(
    n_pos: usize,
    n_out: usize,
    taps: &dyn Fn(usize) -> Vec<(usize, usize)>,
    w_float: &[f32], // [o][tap]
    b_float: &[f32], // [o]
    w_hat: &[f64],   // [o][tap]: the integer weight in the float model's units
    b_hat: &[f64],   // [o]
    x_float: &[f32], // float input
    x_hat: &[f64],   // dequantised integer input
    eps_x: &[f64],   // bound on |x_float - x_hat|
    n_taps: usize,
    z: &[f32],         // float pre-activations [p][o]
    step: Option<f64>, // output quantisation step s_y (None: raw logits)
) -> Vec<f64> {
    let g = gamma(n_taps + 1);
    let mut bound = vec![0.0f64; n_pos * n_out];
    for p in 0..n_pos {
        let t = taps(p);
        for o in 0..n_out {
            let (mut prop, mut wq, mut mag) = (0.0f64, 0.0f64, f64::from(b_float[o]).abs());
            let wrow = &w_float[o * n_taps..(o + 1) * n_taps];
            let hrow = &w_hat[o * n_taps..(o + 1) * n_taps];
            for &(xi, ti) in &t {
                let w = f64::from(wrow[ti]);
                prop += w.abs() * eps_x[xi];
                wq += (w - hrow[ti]).abs() * x_hat[xi].abs();
                mag += w.abs() * f64::from(x_float[xi]).abs();
            }
            let acc = prop + wq + (f64::from(b_float[o]) - b_hat[o]).abs() + g * mag;
            bound[p * n_out + o] = match step {
                Some(s) => {
                    let clip = (f64::from(z[p * n_out + o]) - 255.0 * s).max(0.0);
                    s / 2.0 + acc + clip
                }
                None => acc,
            };
        }
    }
    bound
}

fn check_layer(
    name: &str,
    img: usize,
    float_out: &[f32],
    int_deq: &[f64],
    bound: &[f64],
    w: &mut Worst,
) {
    assert_eq!(float_out.len(), int_deq.len(), "{name}: lengths");
    for (i, ((&f, &q), &b)) in float_out.iter().zip(int_deq).zip(bound).enumerate() {
        let e = (f64::from(f) - q).abs();
        assert!(
            e <= b,
            "image {img}: {name}: element {i}: |float {f} - RTL dequantised {q}| = {e} exceeds \
             the derived bound {b}"
        );
        w.max_err = w.max_err.max(e);
        w.max_bound = w.max_bound.max(b);
        w.max_ratio = w.max_ratio.max(e / b);
        w.sum_bound += b;
        w.n += 1;
    }
}

fn param(net: &Net, name: &str) -> ArrayD<f32> {
    net.params
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
        .value
        .clone()
}

fn load_finetuned() -> Net {
    let source = SavedModel::load(&root().join("models/animals5-cnn")).unwrap();
    let bytes = std::fs::read(root().join(QDIR).join("finetuned.safetensors")).unwrap();
    Net::from_safetensors(source.net.arch.clone(), &bytes).unwrap()
}

#[test]
fn engines_vs_float_model_within_the_derived_bound() {
    let blob = std::fs::read(root().join(QDIR).join("model.blob")).unwrap();
    let model = Model::parse(&blob).unwrap();
    let quant: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join(QDIR).join("quant.json")).unwrap())
            .unwrap();
    let qlayers = quant["layers"].as_array().unwrap();
    let net = load_finetuned();
    // float parameters of the parametric layers in order (layers.<i>.weight/bias)
    let names: Vec<String> = net
        .params
        .iter()
        .filter(|p| p.name.ends_with("weight"))
        .map(|p| p.name.trim_end_matches(".weight").to_string())
        .collect();
    assert_eq!(
        names.len(),
        model.n_layers(),
        "float and integer layer counts"
    );
    let (ds, _) = host::data::load_folder(&root().join("data/sample")).unwrap();
    assert_eq!(ds.len(), 200, "data/sample");

    let mut be = engines();
    let mut worst = vec![Worst::default(); model.n_layers()];
    for (img, pixels) in ds.images.iter().enumerate() {
        let (rtl, _) = rtl_run(&mut be, &model, pixels);
        // float input x = pixel / 255 (f32), integer input q with scale 1/255
        let mut x_float: Vec<f32> = pixels.iter().map(|&p| p as f32 * (1.0 / 255.0)).collect();
        let s_in0 = qlayers[0]["in_scale"].as_f64().unwrap();
        let mut x_hat: Vec<f64> = pixels.iter().map(|&p| f64::from(p) * s_in0).collect();
        let mut eps: Vec<f64> = x_float
            .iter()
            .zip(&x_hat)
            .map(|(&f, &h)| (f64::from(f) - h).abs())
            .collect();
        let mut shape = (64usize, 64usize, 3usize);
        for (li, layer) in model.layers().enumerate() {
            let s_x = qlayers[li]["in_scale"].as_f64().unwrap();
            if li > 0 {
                let prev = qlayers[li - 1]["out_scale"].as_f64().unwrap();
                assert!((prev - s_x).abs() <= 1e-12 * s_x, "layer {li}: scale chain");
            }
            let w = param(&net, &format!("{}.weight", names[li]));
            let b = param(&net, &format!("{}.bias", names[li]));
            let wf = w.as_slice().unwrap();
            let bf = b.as_slice().unwrap();
            let bias: Vec<i32> = layer.bias.iter().collect();
            // the integer layer's real-valued scale per output: s_y * m / 2^shift (hidden
            // layers) or the blob's logit scale (final)
            let step = (!layer.is_final).then(|| qlayers[li]["out_scale"].as_f64().unwrap());
            let n_out = bias.len();
            let acc_scale: Vec<f64> = match (&layer.rq, step) {
                (Some(rq), Some(s_y)) => rq
                    .iter()
                    .map(|q| s_y * f64::from(q.m) / 2f64.powi(i32::from(q.shift)))
                    .collect(),
                _ => vec![f64::from(model.logit_scale()); n_out],
            };
            let b_hat: Vec<f64> = bias
                .iter()
                .zip(&acc_scale)
                .map(|(&q, &a)| f64::from(q) * a)
                .collect();
            let (h, wd, c) = shape;
            match layer.kind {
                LayerKind::Conv { k, cout, pool, .. } => {
                    let k = usize::from(k);
                    let n_taps = k * k * c;
                    let w_hat: Vec<f64> = layer
                        .weights
                        .iter()
                        .enumerate()
                        .map(|(i, &q)| f64::from(q) * acc_scale[i / n_taps] / s_x)
                        .collect();
                    let z = host::layers::conv_forward(&to_array4(&x_float, h, wd, c), &w, &b);
                    let (zh, zw) = (z.shape()[1], z.shape()[2]);
                    let fl = FloatLayer {
                        z: z.into_raw_vec_and_offset().0,
                        zh,
                        zw,
                    };
                    let taps = |p: usize| {
                        let (y, x) = (p / fl.zw, p % fl.zw);
                        let mut t = Vec::with_capacity(n_taps);
                        for ky in 0..k {
                            for kx in 0..k {
                                for ci in 0..c {
                                    t.push((
                                        ((y + ky) * wd + x + kx) * c + ci,
                                        (ky * k + kx) * c + ci,
                                    ));
                                }
                            }
                        }
                        t
                    };
                    let bnd = layer_bound(
                        fl.zh * fl.zw,
                        cout,
                        &taps,
                        wf,
                        bf,
                        &w_hat,
                        &b_hat,
                        &x_float,
                        &x_hat,
                        &eps,
                        n_taps,
                        &fl.z,
                        step,
                    );
                    let y = relu_pool(&fl.z, fl.zh, fl.zw, cout, pool);
                    let bnd = if pool {
                        pool_max(&bnd, fl.zh, fl.zw, cout)
                    } else {
                        bnd
                    };
                    let s_y = step.unwrap();
                    let deq: Vec<f64> = rtl[li].iter().map(|&q| f64::from(q) * s_y).collect();
                    check_layer(
                        &format!("layer {li} (conv)"),
                        img,
                        &y,
                        &deq,
                        &bnd,
                        &mut worst[li],
                    );
                    shape = if pool {
                        (fl.zh / 2, fl.zw / 2, cout)
                    } else {
                        (fl.zh, fl.zw, cout)
                    };
                    x_float = y;
                    x_hat = deq;
                    eps = bnd;
                }
                LayerKind::Dense { n_in, n_out } | LayerKind::DenseP { n_in, n_out, .. } => {
                    // integer weights [o][i]: NP bytes, or decoded P rows
                    let qw: Vec<f64> = match layer.kind {
                        LayerKind::DenseP { bits, .. } => {
                            let mut wts = vec![0.0f64; n_out * n_in];
                            let mut e = 0usize;
                            for (o, len) in layer.row_len.iter().enumerate() {
                                let mut cur = 0usize;
                                for _ in 0..len {
                                    let code = PCode::decode(layer.entries[e], bits);
                                    e += 1;
                                    cur += usize::from(code.skip);
                                    if code.magnitude != 0 {
                                        let v = 2f64.powi(i32::from(code.magnitude) - 1);
                                        wts[o * n_in + cur] = if code.negative { -v } else { v };
                                    }
                                    cur += 1;
                                }
                            }
                            wts
                        }
                        _ => layer.weights.iter().map(|&q| f64::from(q)).collect(),
                    };
                    let w_hat: Vec<f64> = qw
                        .iter()
                        .enumerate()
                        .map(|(i, &q)| q * acc_scale[i / n_in] / s_x)
                        .collect();
                    let z = host::layers::dense_forward(&to_array4(&x_float, 1, 1, n_in), &w, &b);
                    let z = z.into_raw_vec_and_offset().0;
                    let all: Vec<(usize, usize)> = (0..n_in).map(|i| (i, i)).collect();
                    let taps = |_p: usize| all.clone();
                    let bnd = layer_bound(
                        1, n_out, &taps, wf, bf, &w_hat, &b_hat, &x_float, &x_hat, &eps, n_in, &z,
                        step,
                    );
                    let (y, deq): (Vec<f32>, Vec<f64>) = match step {
                        Some(s_y) => (
                            relu_pool(&z, 1, 1, n_out, false),
                            rtl[li].iter().map(|&q| f64::from(q) * s_y).collect(),
                        ),
                        None => (
                            z.clone(),
                            rtl[li]
                                .chunks_exact(4)
                                .map(|c| {
                                    f64::from(i32::from_le_bytes(c.try_into().unwrap()))
                                        * f64::from(model.logit_scale())
                                })
                                .collect(),
                        ),
                    };
                    let kind = if matches!(layer.kind, LayerKind::DenseP { .. }) {
                        "P dense"
                    } else {
                        "dense"
                    };
                    check_layer(
                        &format!("layer {li} ({kind})"),
                        img,
                        &y,
                        &deq,
                        &bnd,
                        &mut worst[li],
                    );
                    shape = (1, 1, n_out);
                    x_float = y;
                    x_hat = deq;
                    eps = bnd;
                }
            }
        }
    }
    eprintln!(
        "RTL (dequantised) vs float model (finetuned.safetensors), {} images:",
        ds.len()
    );
    eprintln!("layer | worst |error| | largest bound | mean bound | worst error/bound");
    for (i, w) in worst.iter().enumerate() {
        eprintln!(
            "{i} | {:.5} | {:.5} | {:.5} | {:.3}",
            w.max_err,
            w.max_bound,
            w.sum_bound / w.n as f64,
            w.max_ratio
        );
    }
}

fn argmax_rows(p: &[f32], classes: usize) -> Vec<usize> {
    p.chunks_exact(classes).map(host::eval::argmax).collect()
}

#[test]
fn classes_vs_float_model() {
    let (ds, _) = host::data::load_folder(&root().join("data/sample")).unwrap();
    let qdir = root().join(QDIR);
    let int = IntModel::load(&qdir).unwrap();
    let host_int: Vec<usize> = int
        .run_all(&ds.images)
        .unwrap()
        .iter()
        .map(|o| o.class)
        .collect();
    let model = int.model();
    let mut be = engines();
    let rtl: Vec<usize> = ds
        .images
        .iter()
        .map(|img| rtl_run(&mut be, &model, img).1)
        .collect();
    assert_eq!(rtl, host_int, "engines vs host integer classes");
    let classes = model.n_classes();
    let source = SavedModel::load(&root().join("models/animals5-cnn"))
        .unwrap()
        .net;
    for (name, net) in [
        ("finetuned float", load_finetuned()),
        ("source float", source),
    ] {
        let float = argmax_rows(&host::eval::predict_dataset(&net, &ds, 50), classes);
        let a_rtl = host::qmodel::agreement(&rtl, &float);
        let a_int = host::qmodel::agreement(&host_int, &float);
        eprintln!(
            "{name}: RTL (engines) agrees on {:.1} % of {} images, host integer on {:.1} %",
            100.0 * a_rtl,
            ds.len(),
            100.0 * a_int
        );
        assert!(
            a_rtl >= a_int,
            "{name}: RTL agreement {a_rtl} < host integer {a_int}"
        );
    }
    // the full SoC (soft-core + engines, what `cnnfpga sim` runs) on one image per class
    for (i, path) in ds.paths.iter().enumerate() {
        if !path.ends_with("0001.jpg") {
            continue;
        }
        let t = std::time::Instant::now();
        let r = host::simrun::run(&host::simrun::SimRequest {
            model: qdir.clone(),
            image: path.clone(),
            software: false,
            trace: None,
            max_cycles: 50_000_000,
        })
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!(
            "SoC {}: class {} ({} cycles, {:.2} s)",
            path.display(),
            r.class,
            r.total_cycles,
            t.elapsed().as_secs_f64()
        );
        assert_eq!(r.class, rtl[i], "{}: SoC vs engines", path.display());
        assert!(r.matches_host, "{}: SoC vs host", path.display());
    }
}
