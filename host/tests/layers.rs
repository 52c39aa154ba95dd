//! Layer kernels against naive loop references, and finite-difference gradient checks of every
//! layer, the loss and a whole small network.

use host::layers::{self, LayerSpec};
use host::model::{Arch, Mode, Net};
use host::rng::Rng;
use ndarray::{Array4, ArrayD, IxDyn};

fn rand_vec(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| rng.range(-1.0, 1.0)).collect()
}
fn rand4(s: [usize; 4], rng: &mut Rng) -> Array4<f32> {
    Array4::from_shape_vec((s[0], s[1], s[2], s[3]), rand_vec(s.iter().product(), rng)).unwrap()
}
fn randd(s: &[usize], rng: &mut Rng) -> ArrayD<f32> {
    ArrayD::from_shape_vec(IxDyn(s), rand_vec(s.iter().product(), rng)).unwrap()
}

fn naive_conv(x: &Array4<f32>, w: &ArrayD<f32>, b: &ArrayD<f32>) -> Array4<f32> {
    let (n, h, wd, c) = x.dim();
    let (o, k) = (w.shape()[0], w.shape()[1]);
    let (oh, ow) = (h - k + 1, wd - k + 1);
    let mut y = Array4::zeros((n, oh, ow, o));
    for i in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for oc in 0..o {
                    let mut s = b[[oc]] as f64;
                    for ky in 0..k {
                        for kx in 0..k {
                            for ic in 0..c {
                                s += (x[[i, oy + ky, ox + kx, ic]] * w[[oc, ky, kx, ic]]) as f64;
                            }
                        }
                    }
                    y[[i, oy, ox, oc]] = s as f32;
                }
            }
        }
    }
    y
}

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "index {i}: {x} vs {y}"
        );
    }
}

#[test]
fn conv_matches_naive_on_random_shapes() {
    let mut rng = Rng::new(11);
    // (n, h, w, c, out, k), including the paper's two layers at reduced batch.
    for &(n, h, w, c, o, k) in &[
        (1, 5, 5, 1, 1, 1),
        (2, 7, 6, 3, 4, 3),
        (3, 9, 11, 2, 5, 5),
        (2, 64, 64, 3, 10, 3),
        (2, 31, 31, 10, 20, 5),
        (GRAD + 3, 6, 6, 2, 3, 2),
    ] {
        let x = rand4([n, h, w, c], &mut rng);
        let wt = randd(&[o, k, k, c], &mut rng);
        let b = randd(&[o], &mut rng);
        let y = layers::conv_forward(&x, &wt, &b);
        close(
            y.as_slice().unwrap(),
            naive_conv(&x, &wt, &b).as_slice().unwrap(),
            1e-4,
        );
    }
}
const GRAD: usize = layers::GRAD_CHUNK;

/// Naive conv backward: `(dx, dw, db)` for output gradient `dy`, in f64.
fn naive_conv_backward(
    x: &Array4<f32>,
    w: &ArrayD<f32>,
    dy: &Array4<f32>,
) -> (Array4<f32>, Vec<f32>, Vec<f32>) {
    let (n, h, wd, c) = x.dim();
    let (o, k) = (w.shape()[0], w.shape()[1]);
    let (oh, ow) = (h - k + 1, wd - k + 1);
    let mut dx = vec![0f64; n * h * wd * c];
    let mut dw = vec![0f64; o * k * k * c];
    let mut db = vec![0f64; o];
    for i in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for oc in 0..o {
                    let g = dy[[i, oy, ox, oc]] as f64;
                    db[oc] += g;
                    for ky in 0..k {
                        for kx in 0..k {
                            for ic in 0..c {
                                let xi = ((i * h + oy + ky) * wd + ox + kx) * c + ic;
                                let wi = ((oc * k + ky) * k + kx) * c + ic;
                                dx[xi] += g * w.as_slice().unwrap()[wi] as f64;
                                dw[wi] += g * x.as_slice().unwrap()[xi] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    let f = |v: Vec<f64>| v.into_iter().map(|a| a as f32).collect::<Vec<f32>>();
    (
        Array4::from_shape_vec((n, h, wd, c), f(dx)).unwrap(),
        f(dw),
        f(db),
    )
}

/// Shapes `(n, h, w, c, out, k)` for the direct-kernel tests: the paper's two layers, odd
/// sizes (pixel tiles with remainders), 1x1 kernels, and channel counts around the 8/16/24
/// register blocks (including a split into two blocks).
const KERNEL_SHAPES: &[(usize, usize, usize, usize, usize, usize)] = &[
    (2, 64, 64, 3, 10, 3),
    (2, 31, 31, 10, 20, 5),
    (1, 5, 5, 1, 1, 1),
    (3, 7, 9, 1, 8, 3),
    (2, 6, 11, 5, 9, 2),
    (1, 10, 7, 4, 16, 4),
    (2, 8, 8, 3, 17, 3),
    (1, 9, 13, 7, 24, 5),
    (2, 7, 8, 2, 25, 3),
    (1, 12, 12, 6, 53, 3),
    (GRAD + 3, 6, 6, 2, 3, 2),
    // Kernel rows of >= 16 floats (sparse backward eligible): 16, 65 (64 + 1 split), 100.
    (2, 6, 7, 8, 5, 2),
    (2, 9, 10, 13, 7, 5),
    (1, 12, 11, 20, 30, 5),
];

fn check_conv_kernels(portable: bool) {
    layers::force_portable_kernels(portable);
    let mut rng = Rng::new(if portable { 31 } else { 32 });
    for &(n, h, w, c, o, k) in KERNEL_SHAPES {
        let x = rand4([n, h, w, c], &mut rng);
        let wt = randd(&[o, k, k, c], &mut rng);
        let b = randd(&[o], &mut rng);
        let y = layers::conv_forward(&x, &wt, &b);
        close(
            y.as_slice().unwrap(),
            naive_conv(&x, &wt, &b).as_slice().unwrap(),
            1e-4,
        );
        let yr = layers::conv_forward_act(&x, &wt, &b, true);
        let relu: Vec<f32> = y.iter().map(|v| v.max(0.0)).collect();
        assert_eq!(yr.as_slice().unwrap(), &relu[..]);
        let dy = rand4([n, h - k + 1, w - k + 1, o], &mut rng);
        let (dx, dw, db) = layers::conv_backward(&x, &wt, &dy, true);
        let (ndx, ndw, ndb) = naive_conv_backward(&x, &wt, &dy);
        let shape = format!("{:?}", (n, h, w, c, o, k));
        eprintln!("checking {shape} portable={portable}");
        close(
            dx.unwrap().as_slice().unwrap(),
            ndx.as_slice().unwrap(),
            1e-4,
        );
        close(dw.as_slice().unwrap(), &ndw, 1e-4);
        close(db.as_slice().unwrap(), &ndb, 1e-4);
        let (none, dw2, _) = layers::conv_backward(&x, &wt, &dy, false);
        assert!(none.is_none());
        assert_eq!(dw2.as_slice().unwrap(), dw.as_slice().unwrap());
        // A gradient as sparse as behind ReLU + max-pool (~15 % non-zero) takes the sparse
        // backward where kernel rows are long enough.
        let dy = dy.mapv(|v| if v.abs() < 0.85 { 0.0 } else { v });
        let (dx, dw, db) = layers::conv_backward(&x, &wt, &dy, true);
        let (ndx, ndw, ndb) = naive_conv_backward(&x, &wt, &dy);
        close(
            dx.unwrap().as_slice().unwrap(),
            ndx.as_slice().unwrap(),
            1e-4,
        );
        close(dw.as_slice().unwrap(), &ndw, 1e-4);
        close(db.as_slice().unwrap(), &ndb, 1e-4);
        let (_, dw2, _) = layers::conv_backward(&x, &wt, &dy, false);
        assert_eq!(dw2.as_slice().unwrap(), dw.as_slice().unwrap());
    }
    layers::force_portable_kernels(false);
}

#[test]
fn conv_kernels_match_naive_forward_and_backward() {
    // Whichever kernels this CPU selects (AVX2+FMA on x86-64 where present), then the portable
    // ones (one test, so the global switch does not race with itself).
    check_conv_kernels(false);
    check_conv_kernels(true);
}

#[test]
fn pool_and_dense_match_naive_and_flatten_is_hwc() {
    let mut rng = Rng::new(12);
    let x = rand4([2, 7, 6, 3], &mut rng);
    let (y, _) = layers::maxpool_forward(&x);
    assert_eq!(y.dim(), (2, 3, 3, 3)); // floor: row 7 / column 7 dropped
    for i in 0..2 {
        for oy in 0..3 {
            for ox in 0..3 {
                for c in 0..3 {
                    let m = [(0, 0), (0, 1), (1, 0), (1, 1)]
                        .iter()
                        .map(|&(dy, dx)| x[[i, 2 * oy + dy, 2 * ox + dx, c]])
                        .fold(f32::NEG_INFINITY, f32::max);
                    assert_eq!(y[[i, oy, ox, c]], m);
                }
            }
        }
    }
    // Flatten + dense: the dense weight index of activation (y, x, c) is (y*W + x)*C + c.
    let (h, w, c, o) = (3, 4, 2, 5);
    let arch = Arch {
        name: "t".into(),
        input: [h, w, c],
        layers: vec![
            LayerSpec::Flatten,
            LayerSpec::Dense {
                inputs: h * w * c,
                outputs: o,
            },
        ],
    };
    let net = Net::init(arch, &mut rng).unwrap();
    let x = rand4([3, h, w, c], &mut rng);
    let (logits, _) = net.forward(x.clone(), Mode::Infer, &mut rng);
    let (wt, b) = (&net.params[0].value, &net.params[1].value);
    for n in 0..3 {
        for oc in 0..o {
            let mut s = b[[oc]];
            for yy in 0..h {
                for xx in 0..w {
                    for cc in 0..c {
                        s += wt[[oc, (yy * w + xx) * c + cc]] * x[[n, yy, xx, cc]];
                    }
                }
            }
            assert!((logits[n * o + oc] - s).abs() < 1e-4);
        }
    }
}

/// Central finite difference of `f` at `x[i]`.
fn fd(x: &mut [f32], i: usize, eps: f32, f: &mut dyn FnMut(&[f32]) -> f64) -> f64 {
    let v = x[i];
    x[i] = v + eps;
    let lp = f(x);
    x[i] = v - eps;
    let lm = f(x);
    x[i] = v;
    (lp - lm) / (2.0 * eps as f64)
}

fn check_grad(
    name: &str,
    analytic: &[f32],
    x: &mut [f32],
    eps: f32,
    f: &mut dyn FnMut(&[f32]) -> f64,
) {
    let mut worst = 0f64;
    let step = (x.len() / 40).max(1);
    for i in (0..x.len()).step_by(step) {
        let num = fd(x, i, eps, f);
        let a = analytic[i] as f64;
        let err = (num - a).abs() / (1e-2 + num.abs().max(a.abs()));
        worst = worst.max(err);
        assert!(err < 2e-2, "{name}[{i}]: analytic {a} vs numeric {num}");
    }
    eprintln!("{name}: worst relative error {worst:.2e}");
}

/// Dot product with a fixed random tensor: a test loss whose gradient w.r.t. the output is `r`.
fn dot(y: &[f32], r: &[f32]) -> f64 {
    y.iter().zip(r).map(|(a, b)| *a as f64 * *b as f64).sum()
}

#[test]
fn conv_gradients() {
    let mut rng = Rng::new(21);
    let (n, h, w, c, o, k) = (GRAD + 2, 6, 5, 2, 3, 3);
    let x = rand4([n, h, w, c], &mut rng);
    let wt = randd(&[o, k, k, c], &mut rng);
    let b = randd(&[o], &mut rng);
    let r = rand4([n, h - k + 1, w - k + 1, o], &mut rng);
    let (dx, dw, db) = layers::conv_backward(&x, &wt, &r, true);
    let rs = r.as_slice().unwrap().to_vec();
    let (xs, ws, bs) = (x.clone(), wt.clone(), b.clone());
    let mut xv = x.as_slice().unwrap().to_vec();
    check_grad(
        "conv dx",
        dx.unwrap().as_slice().unwrap(),
        &mut xv,
        1e-2,
        &mut |v| {
            let xx = Array4::from_shape_vec(xs.raw_dim(), v.to_vec()).unwrap();
            dot(layers::conv_forward(&xx, &ws, &bs).as_slice().unwrap(), &rs)
        },
    );
    let mut wv = wt.as_slice().unwrap().to_vec();
    check_grad("conv dw", dw.as_slice().unwrap(), &mut wv, 1e-2, &mut |v| {
        let ww = ArrayD::from_shape_vec(ws.raw_dim(), v.to_vec()).unwrap();
        dot(layers::conv_forward(&xs, &ww, &bs).as_slice().unwrap(), &rs)
    });
    let mut bv = b.as_slice().unwrap().to_vec();
    check_grad("conv db", db.as_slice().unwrap(), &mut bv, 1e-2, &mut |v| {
        let bb = ArrayD::from_shape_vec(bs.raw_dim(), v.to_vec()).unwrap();
        dot(layers::conv_forward(&xs, &ws, &bb).as_slice().unwrap(), &rs)
    });
}

#[test]
fn dense_gradients() {
    let mut rng = Rng::new(22);
    let (n, i, o) = (37, 11, 7);
    let x = rand4([n, 1, 1, i], &mut rng);
    let wt = randd(&[o, i], &mut rng);
    let b = randd(&[o], &mut rng);
    let r = rand4([n, 1, 1, o], &mut rng);
    let (dx, dw, db) = layers::dense_backward(&x, &wt, &r, true);
    let rs = r.as_slice().unwrap().to_vec();
    let (xs, ws, bs) = (x.clone(), wt.clone(), b.clone());
    let mut xv = x.as_slice().unwrap().to_vec();
    check_grad(
        "dense dx",
        dx.unwrap().as_slice().unwrap(),
        &mut xv,
        1e-2,
        &mut |v| {
            let xx = Array4::from_shape_vec(xs.raw_dim(), v.to_vec()).unwrap();
            dot(
                layers::dense_forward(&xx, &ws, &bs).as_slice().unwrap(),
                &rs,
            )
        },
    );
    let mut wv = wt.as_slice().unwrap().to_vec();
    check_grad(
        "dense dw",
        dw.as_slice().unwrap(),
        &mut wv,
        1e-2,
        &mut |v| {
            let ww = ArrayD::from_shape_vec(ws.raw_dim(), v.to_vec()).unwrap();
            dot(
                layers::dense_forward(&xs, &ww, &bs).as_slice().unwrap(),
                &rs,
            )
        },
    );
    let mut bv = b.as_slice().unwrap().to_vec();
    check_grad(
        "dense db",
        db.as_slice().unwrap(),
        &mut bv,
        1e-2,
        &mut |v| {
            let bb = ArrayD::from_shape_vec(bs.raw_dim(), v.to_vec()).unwrap();
            dot(
                layers::dense_forward(&xs, &ws, &bb).as_slice().unwrap(),
                &rs,
            )
        },
    );
}

#[test]
fn relu_pool_dropout_gradients() {
    let mut rng = Rng::new(23);
    let x = rand4([2, 6, 7, 3], &mut rng);
    let r = rand4([2, 6, 7, 3], &mut rng);
    let rs = r.as_slice().unwrap().to_vec();
    // ReLU
    let mut y = x.clone();
    let pos = layers::relu_forward(&mut y);
    let mut g = r.clone();
    layers::relu_backward(&pos, &mut g);
    let mut xv = x.as_slice().unwrap().to_vec();
    let shape = x.raw_dim();
    check_grad("relu dx", g.as_slice().unwrap(), &mut xv, 1e-3, &mut |v| {
        let mut xx = Array4::from_shape_vec(shape, v.to_vec()).unwrap();
        layers::relu_forward(&mut xx);
        dot(xx.as_slice().unwrap(), &rs)
    });
    // Max-pool
    let (_, arg) = layers::maxpool_forward(&x);
    let rp = rand4([2, 3, 3, 3], &mut rng);
    let rps = rp.as_slice().unwrap().to_vec();
    let dx = layers::maxpool_backward([2, 6, 7, 3], &arg, &rp);
    check_grad(
        "maxpool dx",
        dx.as_slice().unwrap(),
        &mut xv,
        1e-3,
        &mut |v| {
            let xx = Array4::from_shape_vec(shape, v.to_vec()).unwrap();
            dot(layers::maxpool_forward(&xx).0.as_slice().unwrap(), &rps)
        },
    );
    // Dropout: the same stream gives the same mask; gradient = mask.
    let mut y = x.clone();
    let mask = layers::dropout_forward(&mut y, 0.5, &mut Rng::new(5));
    assert!(mask.iter().all(|&m| m == 0.0 || m == 2.0));
    let kept = mask.iter().filter(|&&m| m > 0.0).count() as f32 / mask.len() as f32;
    assert!((kept - 0.5).abs() < 0.12, "kept {kept}");
    let grad: Vec<f32> = mask.iter().zip(&rs).map(|(m, r)| m * r).collect();
    check_grad("dropout dx", &grad, &mut xv, 1e-3, &mut |v| {
        let mut xx = Array4::from_shape_vec(shape, v.to_vec()).unwrap();
        layers::dropout_forward(&mut xx, 0.5, &mut Rng::new(5));
        dot(xx.as_slice().unwrap(), &rs)
    });
}

#[test]
fn softmax_cross_entropy_gradient_and_values() {
    let mut rng = Rng::new(24);
    let (n, k) = (5, 4);
    let mut z = rand_vec(n * k, &mut rng);
    let labels = [0, 3, 1, 1, 2];
    let (loss, grad, probs) = layers::softmax_cross_entropy(&z, &labels, k);
    for row in probs.chunks(k) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
    // Uniform logits: loss = ln k exactly.
    let (l0, _, _) = layers::softmax_cross_entropy(&[0.0; 8], &[1, 2], 4);
    assert!((l0 - 4f32.ln()).abs() < 1e-6);
    assert!(loss > 0.0);
    check_grad("cross-entropy dlogits", &grad, &mut z, 1e-2, &mut |v| {
        layers::softmax_cross_entropy(v, &labels, k).0 as f64
    });
}

#[test]
fn label_smoothed_cross_entropy_gradient_and_values() {
    let mut rng = Rng::new(25);
    let (n, k) = (5, 4);
    let mut z = rand_vec(n * k, &mut rng);
    let labels = [0, 3, 1, 1, 2];
    // eps = 0 is the plain loss, bit for bit
    let plain = layers::softmax_cross_entropy(&z, &labels, k);
    assert_eq!(
        layers::softmax_cross_entropy_smoothed(&z, &labels, k, 0.0),
        plain
    );
    let eps = 0.2;
    let (loss, grad, _) = layers::softmax_cross_entropy_smoothed(&z, &labels, k, eps);
    // Uniform logits: every class has p = 1/k, so the loss is ln k whatever the targets.
    let (l0, _, _) = layers::softmax_cross_entropy_smoothed(&[0.0; 8], &[1, 2], 4, eps);
    assert!((l0 - 4f32.ln()).abs() < 1e-6);
    // The smoothed target is not one-hot: the loss is above the plain one's when the model is
    // confidently right, and its gradient rows still sum to zero.
    assert!(loss > 0.0 && loss != plain.0);
    for row in grad.chunks(k) {
        assert!(row.iter().sum::<f32>().abs() < 1e-6);
    }
    check_grad(
        "smoothed cross-entropy dlogits",
        &grad,
        &mut z,
        1e-2,
        &mut |v| layers::softmax_cross_entropy_smoothed(v, &labels, k, eps).0 as f64,
    );
}

#[test]
fn whole_network_gradients() {
    // A miniature of paper-cnn (no dropout so the loss is deterministic).
    let arch = Arch {
        name: "mini".into(),
        input: [9, 9, 2],
        layers: vec![
            LayerSpec::Conv2d {
                in_ch: 2,
                out_ch: 3,
                kernel: 3,
            },
            LayerSpec::Relu,
            LayerSpec::MaxPool2,
            LayerSpec::Conv2d {
                in_ch: 3,
                out_ch: 4,
                kernel: 2,
            },
            LayerSpec::Relu,
            LayerSpec::Flatten,
            LayerSpec::Dense {
                inputs: 2 * 2 * 4,
                outputs: 6,
            },
            LayerSpec::Relu,
            LayerSpec::Dense {
                inputs: 6,
                outputs: 3,
            },
        ],
    };
    let mut rng = Rng::new(25);
    let mut net = Net::init(arch, &mut rng).unwrap();
    for p in &mut net.params {
        p.value.iter_mut().for_each(|v| *v += rng.range(-0.1, 0.1));
    }
    let x = rand4([4, 9, 9, 2], &mut rng).mapv(|v| v.abs());
    let labels = [0, 1, 2, 1];
    let loss_of = |net: &Net| {
        let (lg, _) = net.forward(x.clone(), Mode::Infer, &mut Rng::new(0));
        layers::softmax_cross_entropy(&lg, &labels, 3).0 as f64
    };
    let (lg, caches) = net.forward(x.clone(), Mode::Train, &mut Rng::new(0));
    let (_, dl, _) = layers::softmax_cross_entropy(&lg, &labels, 3);
    let grads = net.backward(caches, dl);
    for (pi, g) in grads.iter().enumerate() {
        let name = net.params[pi].name.clone();
        let mut v = net.params[pi].value.as_slice().unwrap().to_vec();
        let mut probe = net.clone();
        check_grad(&name, g.as_slice().unwrap(), &mut v, 5e-4, &mut |vals| {
            probe.params[pi]
                .value
                .as_slice_mut()
                .unwrap()
                .copy_from_slice(vals);
            loss_of(&probe)
        });
    }
}

#[test]
fn architecture_rules() {
    assert!(Arch::paper_cnn(5, 64, 0.5).validate().is_ok());
    let n = Net::init(Arch::paper_cnn(5, 64, 0.5), &mut Rng::new(1)).unwrap();
    // 10*3*3*3+10 + 20*5*5*10+20 + 64*3380+64 + 5*64+5 = 280 + 5020 + 216384 + 325
    assert_eq!(n.num_params(), 222_009);
    assert_eq!(
        Net::init(Arch::mlp(5, 64), &mut Rng::new(1))
            .unwrap()
            .num_params(),
        12288 * 64 + 64 + 64 * 5 + 5
    );
    // A hidden layer without ReLU is rejected (integer pipeline rule).
    let bad = Arch {
        name: "bad".into(),
        input: [4, 4, 1],
        layers: vec![
            LayerSpec::Flatten,
            LayerSpec::Dense {
                inputs: 16,
                outputs: 4,
            },
            LayerSpec::Dense {
                inputs: 4,
                outputs: 2,
            },
        ],
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("followed by relu"));
    // Shape errors name the layer and the shapes.
    let bad = Arch {
        name: "bad".into(),
        input: [4, 4, 1],
        layers: vec![LayerSpec::Dense {
            inputs: 16,
            outputs: 2,
        }],
    };
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("layer 0") && e.contains("[4, 4, 1]"), "{e}");
    assert!(Arch::by_name("resnet", 5, 64, 0.5).is_err());
    // The layer list round-trips through JSON (architectures are data).
    let a = Arch::paper_cnn(5, 64, 0.5);
    let j = serde_json::to_string(&a).unwrap();
    assert!(j.contains("\"type\":\"conv2d\""));
    assert_eq!(serde_json::from_str::<Arch>(&j).unwrap(), a);
}

#[test]
fn fused_conv_relu_pool_equals_the_three_layers() {
    let mut rng = Rng::new(41);
    // Paper shapes (batch 2), odd conv outputs (floor pooling drops a row/column), and a
    // negative bias so that many windows are entirely <= 0 (no gradient).
    for &(n, h, w, c, o, k, bias_shift) in &[
        (2, 64, 64, 3, 10, 3, 0.0),
        (2, 31, 31, 10, 20, 5, 0.0),
        (3, 8, 9, 2, 5, 2, -0.5),
        (GRAD + 1, 7, 7, 3, 26, 3, -1.0),
    ] {
        let x = rand4([n, h, w, c], &mut rng);
        let wt = randd(&[o, k, k, c], &mut rng);
        let b = randd(&[o], &mut rng).mapv(|v| v + bias_shift);
        let (y, arg) = layers::conv_relu_pool_forward(&x, &wt, &b);
        let mut conv = layers::conv_forward(&x, &wt, &b);
        let pos = layers::relu_forward(&mut conv);
        let (y_ref, arg_ref) = layers::maxpool_forward(&conv);
        assert_eq!(y.as_slice().unwrap(), y_ref.as_slice().unwrap());
        let mut no_grad = 0;
        for (i, (&a, &r)) in arg.iter().zip(&arg_ref).enumerate() {
            if a == layers::POOL_NO_GRAD {
                assert_eq!(y.as_slice().unwrap()[i], 0.0);
                no_grad += 1;
            } else {
                assert_eq!(a, r);
            }
        }
        assert!(bias_shift == 0.0 || no_grad > 0);
        let dp = rand4([n, y.dim().1, y.dim().2, o], &mut rng);
        let s = conv.shape();
        let mut dconv = layers::maxpool_backward([s[0], s[1], s[2], s[3]], &arg_ref, &dp);
        layers::relu_backward(&pos, &mut dconv);
        let (dx_ref, dw_ref, db_ref) = layers::conv_backward(&x, &wt, &dconv, true);
        let (dx, dw, db) = layers::conv_relu_pool_backward(&x, &wt, &arg, &dp, true);
        assert_eq!(
            dx.unwrap().as_slice().unwrap(),
            dx_ref.unwrap().as_slice().unwrap()
        );
        assert_eq!(dw.as_slice().unwrap(), dw_ref.as_slice().unwrap());
        assert_eq!(db.as_slice().unwrap(), db_ref.as_slice().unwrap());
    }
}
