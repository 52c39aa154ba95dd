//! The Verilated engines against the models they implement (issue 14, items 4 and 5):
//!
//! - `golden_vectors_through_the_engines`: every shipped golden vector (`models/*/golden`,
//!   written by `cnnfpga export`) is driven layer by layer through the Verilated conv and P
//!   engines (`sim::engines::EngineBackend` under `firmware::runner::run`; the NP head on the P
//!   engine too, as the P layer of its signed-digit decomposition): every layer's output and
//!   the logits must equal the vector bit for bit;
//! - `engines_vs_float_model_within_the_derived_bound`: the shipped model's layers on the RTL
//!   for every `data/sample` image, dequantised, against the float model's layer outputs
//!   (`finetuned.safetensors`, the float weights the integer model approximates), within the
//!   per-element bound derived in docs/numerics.md ("RTL vs the float model"); asserted for every
//!   element of every layer of every image, chained (the float model's own outputs, errors
//!   propagated) and local (the float layer on the RTL's dequantised input: a tight bound);
//!   the same run's classes against the float models' classes (fine-tuned and source) on all
//!   200 images: the agreement must be at least the host integer path's;
//! - `soc_classes_match_the_engines`: the full Verilated SoC through `host::simrun::run` (what
//!   `cnnfpga sim` runs) on one image per class gives the engines' and the host's class.
//!
//! The full SoC runs only five images: one `simrun::run` is 6.3 M cycles from reset (boot,
//! flash copies, parsing, inference) and took 5.5-9.5 s here (shared 2-core machine), so all
//! 200 would take ~20 min; the engines alone give the same bits for all 200 in ~100 s (this
//! file and `sim_shipped.rs` check SoC = engines = host integer).

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
            // every layer really ran on an engine: NP dense layers on the P engine, as the P
            // layer of their signed-digit decomposition (firmware::kernels::DenseAsP)
            for (i, l) in model.layers().enumerate() {
                let want = match l.kind {
                    LayerKind::Conv { .. } => Ran::ConvEngine,
                    LayerKind::DenseP { .. } | LayerKind::Dense { .. } => Ran::PEngine,
                };
                assert_eq!(be.ran[i], want, "{what}: layer {i}");
            }
            checked += 1;
        }
    }
    eprintln!("{checked} golden vectors bit-exact through the Verilated engines");
    assert!(checked >= 5, "only {checked} golden vectors found");
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

/// What one layer of the comparison needs besides its inputs.
struct Ctx<'a> {
    layer: firmware::model::Layer<'a>,
    /// Float weights and bias (`[o][tap]`, OHWI for conv: the blob's layout).
    w: ArrayD<f32>,
    b: ArrayD<f32>,
    /// The integer weights in float units `ŵ = W a / s_x` and bias `b̂ = B a`.
    w_hat: Vec<f64>,
    b_hat: Vec<f64>,
    /// Output step `s_y` (hidden layers) or `None` (logits).
    step: Option<f64>,
}

impl Ctx<'_> {
    /// The float layer on `x_float` (`shape` HWC) and the per-element bound of
    /// docs/numerics.md against the integer layer on `x_hat`, given `|x_float - x_hat| <= eps`.
    /// Returns the float output (after ReLU and pooling), the bound, and the output shape.
    fn float_and_bound(
        &self,
        x_float: &[f32],
        x_hat: &[f64],
        eps: &[f64],
        shape: (usize, usize, usize),
    ) -> (Vec<f32>, Vec<f64>, (usize, usize, usize)) {
        let (h, wd, c) = shape;
        let (wf, bf) = (self.w.as_slice().unwrap(), self.b.as_slice().unwrap());
        match self.layer.kind {
            LayerKind::Conv { k, cout, pool, .. } => {
                let k = usize::from(k);
                let n_taps = k * k * c;
                let z = host::layers::conv_forward(&to_array4(x_float, h, wd, c), &self.w, &self.b);
                let (zh, zw) = (z.shape()[1], z.shape()[2]);
                let z = z.into_raw_vec_and_offset().0;
                let taps = |p: usize| {
                    let (y, x) = (p / zw, p % zw);
                    let mut t = Vec::with_capacity(n_taps);
                    for ky in 0..k {
                        for kx in 0..k {
                            for ci in 0..c {
                                t.push((((y + ky) * wd + x + kx) * c + ci, (ky * k + kx) * c + ci));
                            }
                        }
                    }
                    t
                };
                let bnd = layer_bound(
                    zh * zw,
                    cout,
                    &taps,
                    wf,
                    bf,
                    &self.w_hat,
                    &self.b_hat,
                    x_float,
                    x_hat,
                    eps,
                    n_taps,
                    &z,
                    self.step,
                );
                let y = relu_pool(&z, zh, zw, cout, pool);
                if pool {
                    (y, pool_max(&bnd, zh, zw, cout), (zh / 2, zw / 2, cout))
                } else {
                    (y, bnd, (zh, zw, cout))
                }
            }
            LayerKind::Dense { n_in, n_out } | LayerKind::DenseP { n_in, n_out, .. } => {
                let z =
                    host::layers::dense_forward(&to_array4(x_float, 1, 1, n_in), &self.w, &self.b);
                let z = z.into_raw_vec_and_offset().0;
                let all: Vec<(usize, usize)> = (0..n_in).map(|i| (i, i)).collect();
                let taps = |_p: usize| all.clone();
                let bnd = layer_bound(
                    1,
                    n_out,
                    &taps,
                    wf,
                    bf,
                    &self.w_hat,
                    &self.b_hat,
                    x_float,
                    x_hat,
                    eps,
                    n_in,
                    &z,
                    self.step,
                );
                let y = match self.step {
                    Some(_) => relu_pool(&z, 1, 1, n_out, false),
                    None => z,
                };
                (y, bnd, (1, 1, n_out))
            }
        }
    }
}

/// The integer weights of `layer` as `[o][tap]` values (NP bytes, or P codes decoded to
/// `±2^(magnitude-1)`).
fn integer_weights(layer: &firmware::model::Layer<'_>) -> Vec<f64> {
    match layer.kind {
        LayerKind::DenseP {
            n_in, n_out, bits, ..
        } => {
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
    }
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
    let ctxs: Vec<Ctx<'_>> = model
        .layers()
        .enumerate()
        .map(|(li, layer)| {
            let s_x = qlayers[li]["in_scale"].as_f64().unwrap();
            if li > 0 {
                let prev = qlayers[li - 1]["out_scale"].as_f64().unwrap();
                assert!((prev - s_x).abs() <= 1e-12 * s_x, "layer {li}: scale chain");
            }
            let step = (!layer.is_final).then(|| qlayers[li]["out_scale"].as_f64().unwrap());
            // a = s_y m / 2^shift per output (hidden), or the blob's logit scale (final)
            let a: Vec<f64> = match (&layer.rq, step) {
                (Some(rq), Some(s_y)) => rq
                    .iter()
                    .map(|q| s_y * f64::from(q.m) / 2f64.powi(i32::from(q.shift)))
                    .collect(),
                _ => vec![f64::from(model.logit_scale()); layer.output.c],
            };
            let qw = integer_weights(&layer);
            let per_out = qw.len() / a.len();
            Ctx {
                layer,
                w: param(&net, &format!("{}.weight", names[li])),
                b: param(&net, &format!("{}.bias", names[li])),
                w_hat: qw
                    .iter()
                    .enumerate()
                    .map(|(i, &q)| q * a[i / per_out] / s_x)
                    .collect(),
                b_hat: layer
                    .bias
                    .iter()
                    .zip(&a)
                    .map(|(q, &a)| f64::from(q) * a)
                    .collect(),
                step,
            }
        })
        .collect();
    let (ds, _) = host::data::load_folder(&root().join("data/sample")).unwrap();
    assert_eq!(ds.len(), 200, "data/sample");

    let mut be = engines();
    let mut chained = vec![Worst::default(); model.n_layers()];
    let mut local = vec![Worst::default(); model.n_layers()];
    let mut rtl_classes = Vec::with_capacity(ds.len());
    for (img, pixels) in ds.images.iter().enumerate() {
        let (rtl, class) = rtl_run(&mut be, &model, pixels);
        rtl_classes.push(class);
        // float input x = pixel / 255 (f32), integer input q with scale in_scale = 1/255
        let s_in0 = qlayers[0]["in_scale"].as_f64().unwrap();
        let mut x_hat: Vec<f64> = pixels.iter().map(|&p| f64::from(p) * s_in0).collect();
        let mut x_float: Vec<f32> = pixels.iter().map(|&p| p as f32 * (1.0 / 255.0)).collect();
        let mut eps: Vec<f64> = x_float
            .iter()
            .zip(&x_hat)
            .map(|(&f, &h)| (f64::from(f) - h).abs())
            .collect();
        let mut shape = (64usize, 64usize, 3usize);
        for (li, ctx) in ctxs.iter().enumerate() {
            let deq: Vec<f64> = match ctx.step {
                Some(s_y) => rtl[li].iter().map(|&q| f64::from(q) * s_y).collect(),
                None => rtl[li]
                    .chunks_exact(4)
                    .map(|c| {
                        f64::from(i32::from_le_bytes(c.try_into().unwrap()))
                            * f64::from(model.logit_scale())
                    })
                    .collect(),
            };
            let name = format!("layer {li} ({:?})", be.ran[li]);
            // chained: the float model's own layer output, errors propagated from the input
            let (y, bnd, out_shape) = ctx.float_and_bound(&x_float, &x_hat, &eps, shape);
            check_layer(
                &format!("{name}, chained"),
                img,
                &y,
                &deq,
                &bnd,
                &mut chained[li],
            );
            // local: the float layer on the RTL's own (dequantised) input, so only this
            // layer's rounding, weight/multiplier quantisation and clipping remain
            let xl: Vec<f32> = x_hat.iter().map(|&v| v as f32).collect();
            let el: Vec<f64> = xl
                .iter()
                .zip(&x_hat)
                .map(|(&f, &h)| (f64::from(f) - h).abs())
                .collect();
            let (yl, bl, _) = ctx.float_and_bound(&xl, &x_hat, &el, shape);
            check_layer(
                &format!("{name}, local"),
                img,
                &yl,
                &deq,
                &bl,
                &mut local[li],
            );
            shape = out_shape;
            x_float = y;
            x_hat = deq;
            eps = bnd;
        }
    }
    eprintln!(
        "RTL (dequantised) vs float model (finetuned.safetensors), {} images:",
        ds.len()
    );
    eprintln!(
        "layer | comparison | worst |error| | largest bound | mean bound | worst error/bound"
    );
    for (i, (c, l)) in chained.iter().zip(&local).enumerate() {
        for (what, w) in [("chained", c), ("local", l)] {
            eprintln!(
                "{i} | {what} | {:.5} | {:.5} | {:.5} | {:.3}",
                w.max_err,
                w.max_bound,
                w.sum_bound / w.n as f64,
                w.max_ratio
            );
        }
    }
    classes_agree_at_least_as_well_as_the_host(&ds, &rtl_classes);
}

fn argmax_rows(p: &[f32], classes: usize) -> Vec<usize> {
    p.chunks_exact(classes).map(host::eval::argmax).collect()
}

/// The class from the engines (`rtl`, all images) against the float models' classes: at
/// least the host integer path's agreement.
fn classes_agree_at_least_as_well_as_the_host(ds: &host::data::Dataset, rtl: &[usize]) {
    let int = IntModel::load(&root().join(QDIR)).unwrap();
    let host_int: Vec<usize> = int
        .run_all(&ds.images)
        .unwrap()
        .iter()
        .map(|o| o.class)
        .collect();
    assert_eq!(rtl, host_int, "engines vs host integer classes");
    let classes = int.model().n_classes();
    let source = SavedModel::load(&root().join("models/animals5-cnn"))
        .unwrap()
        .net;
    for (name, net) in [
        ("finetuned float", load_finetuned()),
        ("source float", source),
    ] {
        let float = argmax_rows(&host::eval::predict_dataset(&net, ds, 50), classes);
        let a_rtl = host::qmodel::agreement(rtl, &float);
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
}

/// The full Verilated SoC (soft-core + engines, `host::simrun::run` = `cnnfpga sim`) on one
/// image per class: the same class as the engines run layer by layer and as the host.
#[test]
fn soc_classes_match_the_engines() {
    let (ds, _) = host::data::load_folder(&root().join("data/sample")).unwrap();
    let qdir = root().join(QDIR);
    let int = IntModel::load(&qdir).unwrap();
    let model = int.model();
    let mut be = engines();
    // the full SoC (soft-core + engines, what `cnnfpga sim` runs) on one image per class
    let mut ran = 0;
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
            max_cycles: 100_000_000,
            config: sim::SocConfig::Icebreaker,
        })
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!(
            "SoC {}: class {} ({} cycles, {:.2} s)",
            path.display(),
            r.class,
            r.total_cycles,
            t.elapsed().as_secs_f64()
        );
        let rtl = rtl_run(&mut be, &model, &ds.images[i]).1;
        assert_eq!(r.class, rtl, "{}: SoC vs engines", path.display());
        assert!(r.matches_host, "{}: SoC vs host", path.display());
        ran += 1;
    }
    assert_eq!(ran, 5, "one SoC image per class");
}
