//! Optimizer steps against hand-derived values, and frozen-entry masks.

use host::model::Param;
use host::optim::{OptimConfig, Optimizer, ParamMasks};
use ndarray::{ArrayD, IxDyn};

fn scalar(v: f32) -> Vec<Param> {
    vec![Param {
        name: "w".into(),
        value: ArrayD::from_shape_vec(IxDyn(&[1]), vec![v]).unwrap(),
    }]
}
fn grad(g: f32) -> Vec<ArrayD<f32>> {
    vec![ArrayD::from_shape_vec(IxDyn(&[1]), vec![g]).unwrap()]
}

#[test]
fn adam_first_two_steps() {
    // Hand derivation, lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, w0 = 1:
    // step 1, g = 0.5:  m = 0.1*0.5 = 0.05, v = 0.001*0.25 = 2.5e-4,
    //   m^ = 0.05/(1-0.9) = 0.5, v^ = 2.5e-4/(1-0.999) = 0.25, w = 1 - 0.1*0.5/(0.5+1e-8) = 0.9
    //   (the first Adam step is always lr * sign(g)).
    // step 2, g = -0.25: m = 0.9*0.05 + 0.1*(-0.25) = 0.02,
    //   v = 0.999*2.5e-4 + 0.001*0.0625 = 3.1225e-4,
    //   m^ = 0.02/(1-0.81) = 0.10526316, v^ = 3.1225e-4/(1-0.998001) = 0.15620310,
    //   w = 0.9 - 0.1*0.10526316/(sqrt(0.15620310)+1e-8) = 0.9 - 0.1*0.10526316/0.39522538
    //     = 0.9 - 0.02663369 = 0.87336631
    let mut p = scalar(1.0);
    let mut opt = Optimizer::new(OptimConfig::adam(0.1), &p).unwrap();
    opt.step(&mut p, &mut grad(0.5), None).unwrap();
    assert!((p[0].value[[0]] - 0.9).abs() < 1e-6, "{}", p[0].value[[0]]);
    opt.step(&mut p, &mut grad(-0.25), None).unwrap();
    assert!(
        (p[0].value[[0]] - 0.873_366_3).abs() < 1e-5,
        "{}",
        p[0].value[[0]]
    );
    assert_eq!(opt.t, 2);
}

#[test]
fn sgd_momentum_steps() {
    // v1 = g = 0.5, w1 = 1 - 0.1*0.5 = 0.95; v2 = 0.9*0.5 + 0.5 = 0.95, w2 = 0.95 - 0.095 = 0.855.
    let mut p = scalar(1.0);
    let mut opt = Optimizer::new(OptimConfig::sgd(0.1, 0.9), &p).unwrap();
    opt.step(&mut p, &mut grad(0.5), None).unwrap();
    assert!((p[0].value[[0]] - 0.95).abs() < 1e-6);
    opt.step(&mut p, &mut grad(0.5), None).unwrap();
    assert!((p[0].value[[0]] - 0.855).abs() < 1e-6);
    // Plain SGD: w -= lr * g.
    let mut p = scalar(1.0);
    let mut opt = Optimizer::new(OptimConfig::sgd(0.5, 0.0), &p).unwrap();
    opt.step(&mut p, &mut grad(0.2), None).unwrap();
    assert!((p[0].value[[0]] - 0.9).abs() < 1e-6);
}

#[test]
fn frozen_entries_never_move() {
    let mut p = vec![Param {
        name: "layers.0.weight".into(),
        value: ArrayD::from_elem(IxDyn(&[2, 3]), 1.0f32),
    }];
    let mut masks = ParamMasks::new();
    masks.insert(
        "layers.0.weight".into(),
        vec![true, false, true, false, false, true],
    );
    for cfg in [OptimConfig::adam(0.01), OptimConfig::sgd(0.1, 0.9)] {
        let mut opt = Optimizer::new(cfg, &p).unwrap();
        for s in 0..5 {
            let mut g = vec![ArrayD::from_elem(IxDyn(&[2, 3]), 0.3 + s as f32)];
            opt.step(&mut p, &mut g, Some(&masks)).unwrap();
        }
        for (v, &f) in p[0].value.iter().zip(&masks["layers.0.weight"]) {
            if f {
                assert_eq!(*v, 1.0);
            } else {
                assert!(*v < 0.99);
            }
        }
    }
    // A mask of the wrong size is an error.
    masks.insert("layers.0.weight".into(), vec![true]);
    let mut opt = Optimizer::new(OptimConfig::adam(0.01), &p).unwrap();
    let mut g = vec![ArrayD::zeros(IxDyn(&[2, 3]))];
    assert!(opt.step(&mut p, &mut g, Some(&masks)).is_err());
}

#[test]
fn bad_hyper_parameters_are_rejected() {
    assert!(OptimConfig::adam(0.0).validate().is_err());
    assert!(OptimConfig::adam(-1.0).validate().is_err());
    assert!(OptimConfig::sgd(0.1, 1.0).validate().is_err());
    assert!(OptimConfig::sgd(f32::NAN, 0.0).validate().is_err());
}
